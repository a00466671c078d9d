/**
 * A vitest reporter that turns a stuck test run into a failure that says where it is stuck.
 *
 * Vitest bounds each test (`testTimeout`) and each hook (`hookTimeout`) with a timer in the worker
 * process, but nothing bounds a test file whose worker stops answering (a blocked event loop) or a
 * run that never ends for another reason: CI would wait out its own limit and show nothing useful.
 * This reporter runs in vitest's main process and watches the run from outside:
 *
 * - when no test, hook or file has started or ended for `TOKENLAYER_TEST_IDLE_SECONDS` (default 300;
 *   no test here has a timeout over three minutes), it prints the files and tests still running, with
 *   how long each has been running (a test whose start was never reported, because its worker blocked
 *   at once, shows as its file only), and the processes under vitest, then exits with code 1;
 * - when the run has ended but the process is still alive 60 s later, it prints the same and exits with
 *   the run's own result (every test had its verdict by then).
 *
 * Before it exits it kills every process under vitest (SIGKILL): a worker left running would keep
 * spinning, and keep CI's output open, after vitest is gone.
 *
 * It prints nothing else. It reads wall time through `performance.now()`: it measures the test run
 * itself, which no Effect Clock drives.
 */
import * as childProcess from "node:child_process"
import type { Reporter, TestCase, TestModule, TestRunEndReason } from "vitest/node"

const idleSeconds = Number(process.env.TOKENLAYER_TEST_IDLE_SECONDS ?? "300")
const exitGraceSeconds = 60

const since = (start: number) => `${Math.round((performance.now() - start) / 1000)} s`

/** The `ps` lines of the children of `pid`. */
const children = (pid: number): Array<string> => {
  const listed = childProcess.spawnSync("ps", ["-o", "pid,ppid,stat,etime,args", "--ppid", String(pid)], {
    encoding: "utf8",
    timeout: 5_000
  })
  return (listed.stdout ?? "").split("\n").slice(1).filter((line) => line.trim() !== "")
}

const pidOf = (line: string): number => Number(line.trim().split(/\s+/)[0])

/** Every process under this one, depth first, with its depth. */
const descendants = (pid: number, depth = 0): Array<{ readonly line: string; readonly depth: number }> =>
  children(pid).flatMap((line) =>
    pidOf(line) === process.pid || depth > 8 ? [] : [{ line, depth }, ...descendants(pidOf(line), depth + 1)]
  )

export default class Watchdog implements Reporter {
  private lastEvent = performance.now()
  private readonly modules = new Map<string, number>()
  private readonly tests = new Map<string, { readonly name: string; readonly start: number }>()
  private timer: ReturnType<typeof setInterval> | undefined

  onTestRunStart() {
    this.lastEvent = performance.now()
    this.timer = setInterval(() => this.check(), 5_000)
    this.timer.unref()
  }

  onTestModuleStart(module: TestModule) {
    this.modules.set(module.moduleId, performance.now())
    this.touch()
  }

  onTestModuleEnd(module: TestModule) {
    this.modules.delete(module.moduleId)
    this.touch()
  }

  onTestCaseReady(test: TestCase) {
    this.tests.set(test.id, { name: `${test.module.moduleId} > ${test.fullName}`, start: performance.now() })
    this.touch()
  }

  onTestCaseResult(test: TestCase) {
    this.tests.delete(test.id)
    this.touch()
  }

  onHookStart() {
    this.touch()
  }

  onHookEnd() {
    this.touch()
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>, reason: TestRunEndReason) {
    if (this.timer !== undefined) clearInterval(this.timer)
    const passed = reason === "passed" && errors.length === 0 && modules.every((module) => module.ok())
    setTimeout(() => {
      this.reportAndKill(`the test run ended ${exitGraceSeconds} s ago, but vitest has not exited`)
      process.exit(passed ? 0 : 1)
    }, exitGraceSeconds * 1000).unref()
  }

  private touch() {
    this.lastEvent = performance.now()
  }

  private check() {
    if (performance.now() - this.lastEvent < idleSeconds * 1000) return
    this.reportAndKill(`nothing has started or ended for ${idleSeconds} s: the test run is stuck`)
    process.exit(1)
  }

  private reportAndKill(what: string) {
    const lines = [`\nwatchdog: ${what}`]
    for (const [id, start] of this.modules) lines.push(`  file running for ${since(start)}: ${id}`)
    for (const test of this.tests.values()) lines.push(`  test running for ${since(test.start)}: ${test.name}`)
    lines.push("  processes under vitest (killed now):")
    const tree = descendants(process.pid).filter(({ line }) => !/\bps -o /.test(line))
    for (const { depth, line } of tree) lines.push(`    ${"  ".repeat(depth)}${line.slice(0, 200)}`)
    for (const { line } of tree) {
      try {
        process.kill(pidOf(line), "SIGKILL")
      } catch {
        // gone already
      }
    }
    process.stderr.write(`${lines.join("\n")}\n`)
  }
}
