/**
 * The benchmarks' token endpoint on 127.0.0.1: `bench/token-server.mjs` (a `node:http` server that
 * answers `client_credentials` and counts requests), started as a child process and driven over IPC.
 * It runs in a process of its own, as a real token endpoint would: the 10,000 requests of seed 000 do
 * not share the bench's event loop, CPU or file descriptors with the server answering them.
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

export interface TokenServer {
  readonly url: string
  /** Token requests received so far (every POST, answered or not). */
  readonly requests: () => Promise<number>
  /** Requests answered with something other than a token (bad grant or credentials). */
  readonly rejected: () => Promise<number>
  /** Drops the keep-alive connections no request is using. */
  readonly closeIdle: () => Promise<void>
  /** Drops every connection, answered or not (ends a batch that hangs). */
  readonly closeAll: () => Promise<void>
  readonly close: () => Promise<void>
}

interface Reply {
  readonly type: "reply" | "listening"
  readonly id?: number
  readonly port?: number
  readonly requests?: number
  readonly rejected?: number
}

export const startTokenServer = (options: {
  readonly clientId: string
  readonly clientSecret: string
}): Promise<TokenServer> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.fork(fileURLToPath(new URL("./token-server.mjs", import.meta.url)), [], {
      env: { ...process.env, BENCH_CLIENT_ID: options.clientId, BENCH_CLIENT_SECRET: options.clientSecret },
      execArgv: [],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let nextId = 0
    const pending = new Map<number, (reply: Reply) => void>()
    const ask = (type: string): Promise<Reply> =>
      new Promise((done, fail) => {
        const id = nextId++
        pending.set(id, done)
        child.send({ type, id }, (error) => {
          if (error !== null) {
            pending.delete(id)
            fail(error)
          }
        })
      })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    child.on("message", (message: Reply) => {
      if (message.type === "listening") {
        resolve({
          url: `http://127.0.0.1:${message.port}/oauth2/token`,
          requests: async () => (await ask("count")).requests ?? 0,
          rejected: async () => (await ask("count")).rejected ?? 0,
          closeIdle: async () => {
            await ask("closeIdle")
          },
          closeAll: async () => {
            await ask("closeAll")
          },
          close: async () => {
            if (child.exitCode === null && child.connected) child.send({ type: "close" })
            const timer = setTimeout(() => child.kill("SIGKILL"), 3_000)
            await exited
            clearTimeout(timer)
          }
        })
        return
      }
      if (message.id !== undefined) {
        pending.get(message.id)?.(message)
        pending.delete(message.id)
      }
    })
    child.once("exit", (code) => reject(new Error(`token server exited (${code}) before listening`)))
  })
