/**
 * A process that saves tokens with the file store in a tight loop, for the test that kills it with
 * SIGKILL at random moments (test/FleetFile.test.ts). It alternates a short token and a long one, so
 * that a file overwritten in place and cut short would show the long token's tail after the short one.
 *
 * Configuration: `{ directory, key, first }` as JSON in `TOKENLAYER_WRITER_CONFIG`. It prints
 * `started` after its first save (so that a kill lands in the loop, not in the start-up), and runs
 * until it is killed (or its stdin closes). Bundled by `fleet.ts`'s `launcher` into a V8 startup snapshot: started 200 times, it
 * must start fast (0.13 s from the snapshot, 0.3 s from the bundle, 2 s with tsx).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as v8 from "node:v8"
import * as Token from "../../src/Token.js"
import * as TokenStore from "../../src/TokenStore.js"

/** The environment variable that carries the configuration. */
export const writerConfigVariable = "TOKENLAYER_WRITER_CONFIG"

/** What the writer is given. */
export interface WriterConfig {
  readonly directory: string
  readonly key: string
  /** The number of the first token written. */
  readonly first: number
}

const longScope = Array.from({ length: 1500 }, (_, i) => `scope:${i}`).join(" ")

/** The n-th token the writer saves: short when n is even, about 12 KB when n is odd. */
export const writerToken = (n: number): Token.Token =>
  Token.make({
    accessToken: Redacted.make(`writer-${n}`),
    tokenType: "Bearer",
    expiresIn: 3600,
    ...(n % 2 === 0 ? { scope: "short" } : { scope: longScope, refreshToken: Redacted.make(`refresh-${n}`) }),
    issuedAt: DateTime.unsafeMake(1_700_000_000_000 + n),
    expiresAt: DateTime.unsafeMake(1_700_003_600_000 + n)
  })

/** Whether `token` is exactly one of the writer's tokens (every field), and which. */
export const writerTokenNumber = (token: Token.Token): number | undefined => {
  const match = /^writer-(\d+)$/.exec(Redacted.value(token.accessToken))
  if (match === null) return undefined
  const n = Number(match[1])
  const expected = writerToken(n)
  return Token.toJson(expected) === Token.toJson(token) ? n : undefined
}

const main = (): void => {
  const config = JSON.parse(process.env[writerConfigVariable]!) as WriterConfig
  process.stdin.on("close", () => process.exit(0))
  process.stdin.resume()
  const program = Effect.gen(function*() {
    const store = yield* TokenStore.makeFile({ directory: config.directory })
    yield* store.save(config.key, writerToken(config.first))
    process.stdout.write("started\n")
    for (let n = config.first + 1;; n++) yield* store.save(config.key, writerToken(n))
  }).pipe(Effect.provide(NodeFileSystem.layer))
  Effect.runPromiseExit(program).then((exit) => {
    process.stderr.write(`writer stopped: ${String(exit)}\n`)
    process.exit(1)
  })
}

// started from a V8 startup snapshot (fleet.ts `launcher(name, { snapshot: true })`), or as a script
if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(main)
else if (process.env[writerConfigVariable] !== undefined) main()
