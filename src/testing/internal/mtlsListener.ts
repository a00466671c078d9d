/**
 * The embedded `AuthServer`'s https listener (RFC 8705): 127.0.0.1, a free port, every client asked for
 * a certificate and none refused at the handshake (the endpoints decide: `mtlsServer.ts`).
 *
 * @internal
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as http from "node:http"
import * as https from "node:https"
import type * as AuthServer from "../AuthServer.js"

/** @internal */
export const listen = (
  options: AuthServer.MutualTlsOptions
): Effect.Effect<HttpServer.HttpServer, never, Scope.Scope> =>
  NodeHttpServer.make(
    () =>
      // an https.Server is an http.Server with TLS underneath
      https.createServer({
        cert: options.certificate,
        key: options.privateKey,
        ...(options.ca === undefined ? {} : { ca: typeof options.ca === "string" ? [options.ca] : [...options.ca] }),
        requestCert: true,
        rejectUnauthorized: false
      }) as unknown as http.Server,
    { port: 0, host: "127.0.0.1" }
  ).pipe(Effect.orDie)

/** @internal */
export const urls = (server: HttpServer.HttpServer) => {
  const port = server.address._tag === "TcpAddress" ? server.address.port : 0
  const url = `https://127.0.0.1:${port}`
  return {
    url,
    tokenUrl: `${url}/token`,
    apiUrl: (path = "") => `${url}/api/${path.replace(/^\/+/, "")}`
  }
}
