// The route's "next/server": the platform's (next/impl/server.js), shared
// through a global symbol (see ../index.js).
export const { NextRequest, NextResponse, connection } = globalThis[Symbol.for("wasmroute.next")].server;
