import { NextRequest, NextResponse } from 'next/server'

// GET /api/item/:id?q=… answers the id, the query's q and the User-Agent.
export async function GET(request: NextRequest, { params }: { params: Promise<{ id: string }> }) {
  const { id } = await params
  return NextResponse.json({ id, q: request.nextUrl.searchParams.get('q'), ua: request.headers.get('user-agent') })
}
