/**
 * A DPoP (RFC 9449) authorization server and API for tests, over real HTTP on 127.0.0.1 (node:http):
 * every proof verified with jose (signature over the embedded `jwk`, `typ`, `alg`, `htm`, `htu`, `iat`
 * within 60 s of the given clock, `jti` unique, `ath` and the token's `cnf.jkt` at the API), nonces on
 * demand, refresh tokens bound to the key.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Jose from "jose"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"

export type NonceMode = "off" | "on" | "always"

export interface Options {
  /** The clock the server checks `iat` against, in ms (the test's Clock). */
  readonly now: () => number
  tokenNonce?: NonceMode
  apiNonce?: NonceMode
  /** Answer token_type Bearer (a server that ignores DPoP). */
  bearer?: boolean
}

export interface Proof {
  readonly where: "token" | "api"
  readonly jwt: string
  readonly ok: boolean
  readonly reason?: string
}

export interface Server {
  readonly url: string
  readonly tokenUrl: string
  readonly apiUrl: string
  readonly options: Options
  readonly proofs: Array<Proof>
  readonly counts: { token: number; api: number; tokenNonceAsked: number; apiNonceAsked: number; refresh: number }
  /** A new server nonce (the old one is refused from now on). */
  readonly rotateNonce: () => void
  readonly tokens: Map<string, string>
}

const b64 = (s: string) => crypto.createHash("sha256").update(s).digest("base64url")

export const start = (options: Options): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seenJti = new Set<string>()
    const tokens = new Map<string, string>() // access token -> jkt
    const refreshTokens = new Map<string, string>() // refresh token -> jkt
    let nonce = crypto.randomBytes(8).toString("base64url")
    const proofs: Array<Proof> = []
    const counts = { token: 0, api: 0, tokenNonceAsked: 0, apiNonceAsked: 0, refresh: 0 }
    let base = ""

    const verify = async (
      where: "token" | "api",
      req: http.IncomingMessage,
      mode: NonceMode,
      accessToken?: string
    ): Promise<{ jkt: string } | { error: string; nonce?: boolean }> => {
      const header = req.headers["dpop"]
      if (typeof header !== "string") return { error: "no DPoP proof" }
      const fail = (reason: string, nonceAsked = false) => {
        proofs.push({ where, jwt: header, ok: false, reason })
        return { error: reason, nonce: nonceAsked }
      }
      try {
        const { payload, protectedHeader } = await Jose.jwtVerify(header, Jose.EmbeddedJWK, {
          typ: "dpop+jwt",
          algorithms: ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"],
          currentDate: new Date(options.now())
        })
        const jwk = protectedHeader.jwk!
        if ("d" in jwk) return fail("private key in jwk")
        if (payload.htm !== req.method) return fail("htm")
        if (payload.htu !== `${base}${new URL(req.url!, base).pathname}`) return fail("htu")
        if (typeof payload.iat !== "number" || Math.abs(payload.iat * 1000 - options.now()) > 60_000) return fail("iat")
        if (typeof payload.jti !== "string" || seenJti.has(payload.jti)) return fail("jti")
        seenJti.add(payload.jti)
        if (accessToken !== undefined && payload.ath !== b64(accessToken)) return fail("ath")
        if (mode === "always" || (mode === "on" && payload.nonce !== nonce)) {
          if (mode === "always") nonce = crypto.randomBytes(8).toString("base64url")
          return fail("nonce", true)
        }
        proofs.push({ where, jwt: header, ok: true })
        return { jkt: await Jose.calculateJwkThumbprint(jwk, "sha256") }
      } catch (error) {
        return fail(`signature: ${(error as Error).message}`)
      }
    }

    const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", "dpop-nonce": nonce, ...headers })
      res.end(JSON.stringify(body))
    }

    const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Array<Buffer> = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const path = new URL(req.url!, base).pathname
      if (path === "/token") {
        counts.token++
        const form = new URLSearchParams(Buffer.concat(chunks).toString())
        const checked = await verify("token", req, options.tokenNonce ?? "off")
        if ("error" in checked) {
          if (checked.nonce === true) {
            counts.tokenNonceAsked++
            return send(res, 400, { error: "use_dpop_nonce", error_description: "a nonce is needed" })
          }
          return send(res, 400, { error: "invalid_dpop_proof", error_description: checked.error })
        }
        if (form.get("grant_type") === "refresh_token") {
          counts.refresh++
          const bound = refreshTokens.get(form.get("refresh_token") ?? "")
          if (bound === undefined || bound !== checked.jkt) {
            return send(res, 400, { error: "invalid_grant", error_description: "refresh token bound to another key" })
          }
        }
        const accessToken = crypto.randomBytes(16).toString("base64url")
        const refreshToken = crypto.randomBytes(16).toString("base64url")
        tokens.set(accessToken, checked.jkt)
        refreshTokens.set(refreshToken, checked.jkt)
        return send(res, 200, {
          access_token: accessToken,
          token_type: options.bearer === true ? "Bearer" : "DPoP",
          expires_in: 3600,
          refresh_token: refreshToken
        })
      }
      if (path.startsWith("/api")) {
        counts.api++
        const match = /^(\S+) (\S+)$/.exec(req.headers.authorization ?? "")
        const challenge = (error: string) => ({ "www-authenticate": `DPoP algs="ES256 EdDSA", error="${error}"` })
        if (match === null) return send(res, 401, { error: "invalid_token" }, challenge("invalid_token"))
        const jkt = tokens.get(match[2]!)
        if (jkt === undefined || match[1] !== "DPoP") {
          return send(res, 401, { error: "invalid_token" }, challenge("invalid_token"))
        }
        const checked = await verify("api", req, options.apiNonce ?? "off", match[2])
        if ("error" in checked) {
          if (checked.nonce === true) {
            counts.apiNonceAsked++
            return send(res, 401, { error: "use_dpop_nonce" }, challenge("use_dpop_nonce"))
          }
          return send(res, 401, { error: "invalid_dpop_proof" }, challenge("invalid_dpop_proof"))
        }
        if (checked.jkt !== jkt) return send(res, 401, { error: "invalid_token" }, challenge("invalid_token"))
        return send(res, 200, { ok: true })
      }
      send(res, 404, { error: "not_found" })
    }

    const server = http.createServer((req, res) => {
      handle(req, res).catch(() => send(res, 500, { error: "server_error" }))
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
      () =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
    return {
      url: base,
      tokenUrl: `${base}/token`,
      apiUrl: `${base}/api/things`,
      options,
      proofs,
      counts,
      tokens,
      rotateNonce: () => void (nonce = crypto.randomBytes(8).toString("base64url"))
    }
  })
