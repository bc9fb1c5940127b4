/**
 * What the store tells the outside world: a tracer that records every span, a logger that keeps
 * every line, and metric counters read from the global registry.
 */
import { Effect, Layer, Logger, Metric, Option, Tracer } from "effect"
import type { Exit } from "effect"

export interface RecordedSpan {
  readonly name: string
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ name: string; attributes?: Record<string, unknown> }>
  readonly parent: Option.Option<Tracer.AnySpan>
  exit?: Exit.Exit<unknown, unknown>
  ended: boolean
}

let spanCounter = 0

/** A tracer that keeps every span it makes in `spans`. */
export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const recorded: RecordedSpan = { name, attributes: new Map(), events: [], parent, ended: false }
      spans.push(recorded)
      const id = (++spanCounter).toString(16)
      let status: Tracer.SpanStatus = { _tag: "Started", startTime }
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: id,
        traceId: Option.match(parent, { onNone: () => id, onSome: (p) => p.traceId }),
        parent,
        context,
        get status() {
          return status
        },
        attributes: recorded.attributes,
        links: [...links],
        sampled: true,
        kind,
        end(endTime, exit) {
          status = { _tag: "Ended", startTime, endTime, exit }
          recorded.exit = exit
          recorded.ended = true
        },
        attribute(key, value) {
          recorded.attributes.set(key, value)
        },
        event(eventName, _time, attributes) {
          recorded.events.push({ name: eventName, ...(attributes ? { attributes } : {}) })
        },
        addLinks() {}
      }
      return span
    },
    context: (f) => f()
  })
  return { spans, layer: Layer.setTracer(tracer), tracer }
}

export interface RecordedLog {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly text: string
}

/** A logger that keeps every line (and still drops nothing), plus the layer installing it. */
export const recordingLogger = () => {
  const logs: Array<RecordedLog> = []
  const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    const annotationRecord: Record<string, unknown> = {}
    for (const [k, v] of annotations) annotationRecord[k] = v
    logs.push({
      level: logLevel.label,
      message: text,
      annotations: annotationRecord,
      text: `${text} ${JSON.stringify(annotationRecord)} ${String(cause)}`
    })
  })
  return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** Sum of every counter named `name` whose tags include `tags`, from the global registry. */
export const counterTotal = (name: string, tags: Record<string, string> = {}) =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const keyTags = new Map(pair.metricKey.tags.map((t) => [t.key, t.value]))
      if (!Object.entries(tags).every(([k, v]) => keyTags.get(k) === v)) continue
      const state = pair.metricState as unknown as { count?: number | bigint }
      if (state.count !== undefined) total += Number(state.count)
    }
    return total
  })

/** Counters of one metric name, grouped by the value of one tag. */
export const counterBy = (name: string, tag: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const out: Record<string, number> = {}
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const value = pair.metricKey.tags.find((t) => t.key === tag)?.value ?? "(none)"
      const state = pair.metricState as unknown as { count?: number | bigint }
      if (state.count !== undefined) out[value] = (out[value] ?? 0) + Number(state.count)
    }
    return out
  })

/** Every string reachable from a value (for "no secret anywhere" checks). */
export const allText = (value: unknown, seen = new Set<unknown>()): string => {
  if (value === null || value === undefined) return ""
  if (typeof value === "string") return value
  if (typeof value !== "object") return String(value)
  if (seen.has(value)) return ""
  seen.add(value)
  const parts: Array<string> = []
  if (value instanceof Error) parts.push(value.message, String(value.stack ?? ""))
  if (value instanceof Map) {
    for (const [k, v] of value) parts.push(allText(k, seen), allText(v, seen))
  } else {
    for (const key of Object.getOwnPropertyNames(value)) {
      parts.push(key, allText((value as Record<string, unknown>)[key], seen))
    }
  }
  return parts.join(" ")
}
