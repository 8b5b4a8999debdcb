// Only POST is exported: the runtime answers 405 with Allow for the rest.
// The body streams through: the handler never holds all of it.
export function POST(request: Request) {
  const headers = new Headers()
  const type = request.headers.get('content-type')
  if (type) headers.set('content-type', type)
  return new Response(request.body, { headers })
}
