// The three routes of ../app as one workerd module: the same code, with
// Response.json for NextResponse.json and the path matched by hand for
// Next's params.

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2)
}

const item = /^\/api\/item\/([^/]+)$/

export default {
  async fetch(request) {
    const url = new URL(request.url)
    if (url.pathname === '/api/hi') {
      return new Response('hi')
    }
    if (url.pathname === '/api/cpu') {
      return new Response(String(fib(25)))
    }
    const m = item.exec(url.pathname)
    if (m) {
      const id = decodeURIComponent(m[1])
      return Response.json({ id, q: url.searchParams.get('q'), ua: request.headers.get('user-agent') })
    }
    return new Response('not found', { status: 404 })
  },
}
