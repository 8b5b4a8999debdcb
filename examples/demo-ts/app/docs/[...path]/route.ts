// A catch-all takes one or more segments: params.path is an array.
export async function GET(_request: Request, { params }: { params: Promise<{ path: string[] }> }) {
  const { path } = await params
  return Response.json({ path })
}
