/**
 * `tokenlayer dev-server`: tokenlayer's test authorization server (`AuthServer` of `tokenlayer/testing`)
 * on 127.0.0.1 until the command is stopped, with a confidential client (client credentials) and a
 * public one (the device flow, approved on its `/device` page), and the settings to use them printed
 * on stdout. For trying the shell flow locally; its tokens are good for its own `/api` only.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as crypto from "node:crypto"
import * as http from "node:http"
import * as AuthServer from "../../testing/AuthServer.js"
import type * as Args from "../Args.js"
import * as Errors from "../Errors.js"
import * as Output from "../Output.js"
import * as Values from "../Values.js"

/**
 * What `dev-server` prints once it listens: shell lines that set the `TOKENLAYER_*` variables, and
 * commands to try.
 *
 * @since 0.1.0
 * @category formatting
 */
export const describe = (server: AuthServer.Service, secret: string): string =>
  [
    `# tokenlayer dev-server: an authorization server on ${server.url} (Ctrl-C stops it)`,
    `# client credentials: in another shell,`,
    `export TOKENLAYER_TOKEN_URL=${server.tokenUrl}`,
    `export TOKENLAYER_CLIENT_ID=dev-client`,
    `export TOKENLAYER_CLIENT_SECRET=${secret}`,
    `#   tokenlayer token`,
    `#   curl -H "$(tokenlayer header)" ${server.apiUrl("things")}`,
    `# the device flow: tokenlayer login --grant device_code --issuer ${server.issuer} --client-id dev-device`,
    `#   then approve the code at ${server.verificationUrl}`
  ].join("\n")

/**
 * `tokenlayer dev-server [--port N] [--token-lifetime DURATION]`.
 *
 * @since 0.1.0
 * @category commands
 */
export const devServer = (parsed: Args.Parsed) =>
  Effect.gen(function*() {
    const port = typeof parsed.values.port === "number" ? parsed.values.port : 0
    const lifetimeText = typeof parsed.values.tokenLifetime === "string" ? parsed.values.tokenLifetime : "1h"
    const lifetime = Values.parseDuration(lifetimeText)
    if (Option.isNone(lifetime) || lifetime.value < 1000) {
      return yield* Effect.fail(Errors.usage(
        `--token-lifetime ${Errors.oneLine(lifetimeText, 60)} is not a duration of a second or more: write 5m or 1h`
      ))
    }
    const secret = crypto.randomBytes(18).toString("base64url")
    const cannotListen = Errors.config(`cannot listen on 127.0.0.1:${port}: is the port in use? try another --port`)
    // the HTTP server in this command's scope: it serves until the command ends
    const httpServer = yield* Layer.build(NodeHttpServer.layer(() => http.createServer(), { port, host: "127.0.0.1" }))
      .pipe(Effect.catchAllCause(() => Effect.fail(cannotListen)))
    const server = yield* AuthServer.make({
      clients: [
        { id: "dev-client", secret, method: "client_secret_basic" },
        { id: "dev-device", method: "none" }
      ],
      tokenLifetime: lifetime.value
    }).pipe(Effect.provide(httpServer))
    yield* Output.out(describe(server, secret))
    return yield* Effect.never
  }).pipe(Effect.scoped)
