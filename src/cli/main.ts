#!/usr/bin/env node
/**
 * The `tokenlayer` executable (`bin` in package.json, compiled to `dist/cli/main.js`).
 *
 * ```sh
 * curl -H "$(tokenlayer header --profile iceye)" https://platform.example/api/company/v1/contracts
 * TOKEN=$(tokenlayer token --profile thingpark)
 * ```
 *
 * Exits with the code `Commands.run` answers: 0 on success, see `Errors.ExitCode` for the rest.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Commands from "./Commands.js"

// a reader that stops early (`tokenlayer status | head -1`) is not an error
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
    throw error
  })
}

// the fetch client: one request per run, and it starts faster than undici from node_modules
const program = Commands.run(process.argv).pipe(
  Effect.provide(Layer.merge(NodeContext.layer, FetchHttpClient.layer))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) {
      // let stdout and stderr drain, then exit with the code
      process.exitCode = typeof exit.value === "number" ? exit.value : 1
      onExit(0)
    } else {
      onExit(130)
    }
  }
})
