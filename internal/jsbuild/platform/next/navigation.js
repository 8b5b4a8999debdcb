// The route's "next/navigation": the platform's (next/impl/navigation.js),
// shared through a global symbol (see ../index.js).
export const { RedirectType, notFound, permanentRedirect, redirect } = globalThis[Symbol.for("wasmroute.next")].navigation;
