/**
 * The README's quick start, run as a reader runs it after pasting it: a program of its own, started by
 * tsx, against the AuthServer it starts itself. It must exit 0, having made exactly one token request.
 */
import { assert, describe, it } from "@effect/vitest"
import * as childProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { promisify } from "node:util"

const root = Path.resolve(import.meta.dirname, "..")
const execFile = promisify(childProcess.execFile)

describe("README quick start", () => {
  it("is the quick start program, line for line", () => {
    const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
    const quickStart = readme.slice(
      readme.indexOf("## Quick start"),
      readme.indexOf("\n## ", readme.indexOf("## Quick start") + 1)
    )
    const program = Fs.readFileSync(Path.join(root, "scratchpad", "readme", "quickstart.ts"), "utf8").trim()
    assert.include(quickStart, program)
  })

  it("runs as pasted: one token request, then the same token from memory", async () => {
    const { stdout } = await execFile(
      Path.join(root, "node_modules", ".bin", "tsx"),
      ["--conditions=source", Path.join("scratchpad", "readme", "quickstart.ts")],
      { cwd: root, timeout: 60_000, env: { PATH: process.env.PATH ?? "" } }
    )
    assert.match(stdout, /^Bearer token, expires \d{4}-\d\d-\d\dT[\d:.]+Z, reused: true\ntoken requests: 1\n$/)
  }, 90_000)
})
