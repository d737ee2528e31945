/**
 * Suites that need the real kernel call this in `before`. Off root they skip with a printed
 * reason; `.ci/run` sets NSBOX_REQUIRE_ROOT=1, where a skip is a failure instead.
 */
export function requireRoot(context: Mocha.Context, what: string): void {
  if (process.getuid?.() === 0) return;
  const reason = `${what} needs root and the real kernel`;
  if (process.env.NSBOX_REQUIRE_ROOT === '1') throw new Error(`${reason}, and NSBOX_REQUIRE_ROOT=1 forbids skipping`);
  console.log(`  skipped: ${reason}`);
  context.skip();
}
