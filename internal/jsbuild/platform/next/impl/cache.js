// cache.js: next/cache, over the engine's cacheRevalidate native
// (internal/jsengine/CONTRACT.md) and the host's response cache (abi/ABI.md,
// cache_revalidate).
//
//	import { revalidatePath } from 'next/cache'
//	revalidatePath('/blog/hello')    // that path's cached answers, every query
//	revalidatePath('/blog/[slug]')   // every cached answer of that route
//
// The host caches the GET answers of routes that export revalidate or
// dynamic = 'force-static' (or set them in route.json). revalidatePath
// drops them at once: the next request runs the handler. A path that does
// not start with '/' or has a query throws an Error whose message is the
// host's explanation. revalidateTag has no tags to act on (wasmroute does
// not cache fetches) and throws, rather than let a caller believe its data
// was refreshed.
import { hostError } from "../../glue.js";

let host; // the engine's natives

// init keeps the engine's natives.
export function init(h) {
	host = h;
}

const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// revalidatePath drops the cached answers of path. type ('page' or
// 'layout') is accepted as Next.js takes it; a route handler's path has no
// layout below it, so both drop the same answers.
export function revalidatePath(path, type = undefined) {
	const p = String(path);
	if (type !== undefined && type !== "page" && type !== "layout") {
		throw new TypeError(`revalidatePath: type ${JSON.stringify(String(type))} is neither "page" nor "layout"`);
	}
	if (lone.test(p)) throw new TypeError(`revalidatePath: the path ${JSON.stringify(p)} holds a lone surrogate: it is not UTF-8`);
	const code = host.cacheRevalidate(p);
	if (code !== 0) throw hostError(host, code, `revalidatePath ${JSON.stringify(p)}`);
}

// revalidateTag is not supported: wasmroute caches route answers by path,
// and keeps no tags.
export function revalidateTag(tag) {
	throw new Error(`revalidateTag(${JSON.stringify(String(tag))}): wasmroute caches route answers by path and keeps no tags: call revalidatePath`);
}
