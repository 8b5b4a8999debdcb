export async function GET(request: Request, { params }: { params: Promise<{ slug: string }> }) {
  const url = new URL(request.url)
  return Response.json({ slug: (await params).slug, search: url.search, user: request.headers.get('x-user') })
}
