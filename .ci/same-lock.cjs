// Exits non-zero when two npm lockfiles disagree on anything but other platforms' optional packages.
// The registry reachable here sometimes withholds those packages and sometimes serves them, so
// `npm install` may add or drop their entries; every other package must keep its locked version.
const fs = require("fs")
const [before, after] = process.argv.slice(2).map((file) => JSON.parse(fs.readFileSync(file, "utf8")).packages ?? {})
const platformOnly = (entry) => entry.optional === true && (entry.os !== undefined || entry.cpu !== undefined)
const problems = []
for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
  const [a, b] = [before[key], after[key]]
  if (a === undefined || b === undefined) {
    if (!platformOnly(a ?? b)) problems.push(`${key}: ${a === undefined ? "added" : "removed"}`)
  } else if (a.version !== b.version || a.integrity !== b.integrity) {
    problems.push(`${key}: ${a.version} -> ${b.version}`)
  }
}
if (problems.length > 0) {
  console.error(`npm install changed the locked packages:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
