// The route's "next/cache": the platform's (next/impl/cache.js), shared
// through a global symbol (see ../index.js).
export const { revalidatePath, revalidateTag } = globalThis[Symbol.for("wasmroute.next")].cache;
