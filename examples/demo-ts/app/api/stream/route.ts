// Server-sent events: each chunk is flushed to the client as it is enqueued.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function GET() {
  const encoder = new TextEncoder()
  const stream = new ReadableStream({
    async start(controller) {
      for (let i = 0; i < 5; i++) {
        if (i > 0) await sleep(200)
        controller.enqueue(encoder.encode(`data: ${i}\n\n`))
      }
      controller.close()
    },
  })
  return new Response(stream, {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
  })
}
