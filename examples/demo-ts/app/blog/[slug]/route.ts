import { NextResponse, type NextRequest } from 'next/server'

type Params = { slug: string }

export async function GET(_request: NextRequest, { params }: { params: Promise<Params> }) {
  const { slug } = await params
  return NextResponse.json({ slug })
}
