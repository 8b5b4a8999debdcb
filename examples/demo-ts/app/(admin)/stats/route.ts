// A route group: (admin) is left out of the URL. Module state lives as long
// as the instance, like a Go route's globals.
let served = 0

export function GET() {
  served++
  return Response.json({ group: '(admin)', servedByThisInstance: served })
}
