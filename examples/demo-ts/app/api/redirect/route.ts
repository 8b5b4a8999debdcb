import { redirect } from 'next/navigation'

export function GET() {
  redirect('/api/hello') // 307, as in Next.js; permanentRedirect gives 308
}
