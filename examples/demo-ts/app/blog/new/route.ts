// A static folder wins over its dynamic sibling [slug].
export function GET() {
  return new Response('new post', { headers: { 'content-type': 'text/plain; charset=utf-8' } })
}
