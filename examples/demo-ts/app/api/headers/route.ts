import { headers } from 'next/headers'

export async function GET() {
  const h = await headers()
  return Response.json({ 'x-demo': h.get('x-demo') ?? '' })
}
