// A private folder: never routed.
export function GET() {
  return Response.json({ secret: 'if you can read this, private folders are routed' })
}
