// GET /api/hi answers "hi".
export function GET() {
  return new Response('hi')
}
