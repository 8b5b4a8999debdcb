import type { NextRequest } from 'next/server'

export function GET(request: NextRequest) {
  const q = request.nextUrl.searchParams
  return Response.json({ name: q.get('name') ?? '', tag: q.getAll('tag') })
}
