// A throwing handler: 500 with an empty body; the error is logged with its
// stack mapped back to this file.
export function GET(): Response {
  throw new Error('crash on purpose')
}
