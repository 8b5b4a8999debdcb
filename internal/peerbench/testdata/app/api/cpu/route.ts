// GET /api/cpu answers fib(25) = 75025, computed by double recursion: where
// an interpreter loses to a JIT.
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2)
}

export function GET() {
  return new Response(String(fib(25)))
}
