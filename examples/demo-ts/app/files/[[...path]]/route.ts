// An optional catch-all takes zero or more segments; with none, the param
// is absent, as in Next.js.
export async function GET(_request: Request, { params }: { params: Promise<{ path?: string[] }> }) {
  const { path = [] } = await params
  return Response.json({ path })
}
