// navigation.js: next/navigation's redirect() and notFound(), which throw
// errors carrying a digest in Next.js's format; the dispatcher answers them
// as Next.js does in a route handler (navigationResponse).
import { Headers, Response } from "../../glue.js";

export const RedirectType = Object.freeze({ push: "push", replace: "replace" });

const REDIRECT = "NEXT_REDIRECT";
const NOT_FOUND = "NEXT_HTTP_ERROR_FALLBACK;404";

// redirect throws: the route answers 307 with Location: url.
export function redirect(url, type = RedirectType.replace) {
	throw redirectError(url, type, 307);
}

// permanentRedirect throws: the route answers 308 with Location: url.
export function permanentRedirect(url, type = RedirectType.replace) {
	throw redirectError(url, type, 308);
}

// notFound throws: the route answers 404 with an empty body.
export function notFound() {
	const err = new Error(NOT_FOUND);
	err.digest = NOT_FOUND;
	throw err;
}

function redirectError(url, type, status) {
	const err = new Error(REDIRECT);
	err.digest = `${REDIRECT};${type};${url};${status};`;
	return err;
}

// navigationResponse returns the Response for an error thrown by redirect
// or notFound, or undefined for any other value.
export function navigationResponse(err) {
	const digest = err?.digest;
	if (typeof digest !== "string") return undefined;
	if (digest === NOT_FOUND) return new Response(null, { status: 404 });
	const parts = digest.split(";");
	if (parts[0] !== REDIRECT || parts.length < 5) return undefined;
	const status = Number(parts.at(-2));
	const headers = new Headers({ location: parts.slice(2, -2).join(";") });
	return new Response(null, { status, headers });
}
