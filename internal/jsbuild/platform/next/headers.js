// The route's "next/headers": the platform's (next/impl/headers.js), shared
// through a global symbol (see ../index.js).
export const { cookies, draftMode, headers } = globalThis[Symbol.for("wasmroute.next")].headers;
