import { cookies } from 'next/headers'
import { json } from '../../../lib/json'

// Reads the session cookie with next/headers and sets two cookies, each in
// its own Set-Cookie header. (cookies().set('a', '1') works too; it adds
// Next.js's default "; Path=/".)
export async function GET() {
  const session = (await cookies()).get('session')?.value ?? null
  const res = json({ session })
  res.headers.append('set-cookie', 'a=1')
  res.headers.append('set-cookie', 'b=2')
  return res
}
