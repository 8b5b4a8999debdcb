// The route's "wasmroute:kv": the platform's (impl/kv.js), shared through
// a global symbol (see ../index.js).
export const { kv, KVError } = globalThis[Symbol.for("wasmroute.kv")];
export default kv;
