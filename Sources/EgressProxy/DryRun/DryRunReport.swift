// MARK: - DryRunReport

/// Runs a dry-run over a HAR reader and streams the output (SPEC 9): a table for people or
/// one JSON object for machines, then the summary. Rows are written as they are decided, so
/// memory doesn't grow with the number of entries.
public enum DryRunReport {
    public enum Format: String, Sendable, CaseIterable {
        case table, json
    }

    /// Decides every entry of `reader`; with `--against` only changed entries are printed.
    /// Errors in the HAR stop the run (the output so far has been written).
    public static func run(reader: HARReader, session: DryRunSession, format: Format, color: Bool = false,
                           write: (String) -> Void) throws(HARError) -> DryRunSummary {
        let against = session.baseline != nil
        var summary = DryRunSummary()
        var table = TableWriter(against: against, color: color)
        var json = JSONRowWriter(against: against)
        if format == .json { write(json.begin()) }
        do {
            while let entry = try reader.next() {
                let row = session.evaluate(entry)
                summary.add(row)
                if against && !row.changed { continue }
                switch format {
                case .json: write(json.row(row))
                case .table: if let text = table.row(row) { write(text) }
                }
            }
        } catch {
            // What was decided is still shown; JSON stays one valid object, naming the error.
            switch format {
            case .json: write(json.end(summary, error: error))
            case .table: write(table.flush())
            }
            throw error
        }
        summary.truncation = reader.truncation
        switch format {
        case .json:
            write(json.end(summary))
        case .table:
            write(table.flush())
            write(table.summary(summary))
        }
        return summary
    }
}

// MARK: - JSON

/// `{"entries": [...], "summary": {...}}` with one entry a line.
struct JSONRowWriter {
    let against: Bool
    private var count = 0

    init(against: Bool) {
        self.against = against
    }

    func begin() -> String { "{\"entries\": [\n" }

    mutating func row(_ row: DryRunRow) -> String {
        var w = JSONBytes()
        w.open("{")
        w.key("index"); w.int(row.index)
        w.key("method"); w.string(row.method)
        w.key("url"); w.string(row.url)
        Self.decision(&w, row.outcome)
        w.key("secrets"); Self.strings(&w, row.outcome.secrets)
        w.key("pii"); w.open("[")
        for p in row.outcome.pii {
            w.open("{"); w.key("type"); w.string(p.type); w.key("count"); w.int(p.count); w.close("}")
        }
        w.close("]")
        w.key("mode")
        if let mode = row.outcome.mode { w.string(mode.rawValue) } else { w.raw("null") }
        w.key("unresolved"); if row.outcome.unresolved { w.raw("true") } else { w.raw("false") }
        if let note = row.outcome.note { w.key("note"); w.string(note) }
        if let before = row.before {
            w.key("before"); w.open("{")
            Self.decision(&w, before)
            w.key("secrets"); Self.strings(&w, before.secrets)
            w.close("}")
        }
        w.close("}")
        let prefix = count == 0 ? "" : ",\n"
        count += 1
        return prefix + String(decoding: w.bytes, as: UTF8.self)
    }

    /// Closes the object; `error` (a HAR error that stopped the run) becomes `summary.error`.
    func end(_ s: DryRunSummary, error: HARError? = nil) -> String {
        var w = JSONBytes()
        w.open("{")
        w.key("total"); w.int(s.total)
        w.key("allow"); w.int(s.allow)
        w.key("deny"); w.int(s.deny)
        w.key("by_reason"); w.open("{")
        for (reason, n) in s.byReason.sorted(by: { $0.key < $1.key }) { w.key(reason); w.int(n) }
        w.close("}")
        w.key("skipped"); w.int(s.skipped)
        w.key("unresolved"); w.int(s.unresolved)
        if against {
            w.key("changed"); w.int(s.changed)
            w.key("newly_denied_hosts"); Self.strings(&w, s.newlyDeniedHosts.sorted())
        }
        if let t = s.truncation {
            w.key("truncated"); w.string(t.description)
        }
        if let error {
            w.key("error"); w.string(error.description)
        }
        w.close("}")
        return (count == 0 ? "" : "\n") + "],\n\"summary\": " + String(decoding: w.bytes, as: UTF8.self) + "}\n"
    }

    private static func decision(_ w: inout JSONBytes, _ o: DryRunOutcome) {
        w.key("decision"); w.string(o.verdict)
        w.key("reason"); w.string(o.reason)
        w.key("rule")
        if let rule = o.rule { w.string(rule) } else { w.raw("null") }
    }

    private static func strings(_ w: inout JSONBytes, _ list: [String]) {
        w.open("[")
        for s in list { w.string(s) }
        w.close("]")
    }
}

// MARK: - Table

/// Aligned columns. Widths come from the header and the first `sampleRows` rows (capped);
/// later rows are cut to fit, so the table streams.
struct TableWriter {
    static let sampleRows = 1000

    let against: Bool
    let color: Bool
    private var headers: [String]
    /// The most characters a column shows (the last column is never cut).
    private var caps: [Int]
    private var widths: [Int]?
    private var sample: [(cells: [String], verdicts: [String])] = []
    private var printedHeader = false

    init(against: Bool, color: Bool) {
        self.against = against
        self.color = color
        if against {
            headers = ["#", "METHOD", "URL", "BEFORE", "AFTER", "REASON", "RULE", "SECRETS", "PII", "NOTE"]
            caps = [8, 10, 72, 28, 5, 22, 36, 40, 30, .max]
        } else {
            headers = ["#", "METHOD", "URL", "DECISION", "REASON", "RULE", "SECRETS", "PII", "NOTE"]
            caps = [8, 10, 72, 8, 22, 36, 40, 30, .max]
        }
    }

    /// Text to print now (nil while the first rows are sampled for widths).
    mutating func row(_ row: DryRunRow) -> String? {
        let line = cells(row)
        if widths == nil {
            sample.append(line)
            if sample.count < Self.sampleRows { return nil }
            return flush()
        }
        return render(line)
    }

    /// Prints what is still sampled (with the header).
    mutating func flush() -> String {
        if widths == nil {
            var w = headers.map(\.count)
            for line in sample {
                for (i, cell) in line.cells.enumerated() { w[i] = max(w[i], cell.count) }
            }
            widths = zip(w, caps).map { min($0, $1) }
        }
        var out = ""
        if !printedHeader {
            printedHeader = true
            out += render((cells: headers, verdicts: []), header: true)
        }
        for line in sample { out += render(line) }
        sample.removeAll()
        return out
    }

    func summary(_ s: DryRunSummary) -> String {
        var out = "\n"
        out += "\(s.total) \(s.total == 1 ? "entry" : "entries"): \(paint("\(s.allow) allow", "allow")), \(paint("\(s.deny) deny", "deny"))"
        if s.skipped > 0 { out += ", \(s.skipped) not proxied (skipped)" }
        out += "\n"
        if !s.byReason.isEmpty {
            out += "by reason: " + s.byReason.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        if s.unresolved > 0 {
            out += "\(s.unresolved) unresolved (no serverIPAddress): network stage decided on host rules alone; give --resolve HOST:IP\n"
        }
        if against {
            out += "changed: \(s.changed) \(s.changed == 1 ? "entry" : "entries")"
            if !s.newlyDeniedHosts.isEmpty {
                out += "; newly denied hosts: " + s.newlyDeniedHosts.sorted().joined(separator: ", ")
            }
            out += "\n"
        }
        if let t = s.truncation { out += "warning: \(t)\n" }
        return out
    }

    // MARK: Cells

    private func cells(_ row: DryRunRow) -> (cells: [String], verdicts: [String]) {
        let o = row.outcome
        var notes: [String] = []
        if let mode = o.mode { notes.append(mode.rawValue) }
        if o.unresolved { notes.append("unresolved") }
        if let address = o.address, o.addressSource == .har || o.addressSource == .resolve {
            notes.append("ip \(address) (\(o.addressSource == .har ? "HAR" : "--resolve"))")
        }
        if let note = o.note { notes.append(note) }
        let secrets = o.secrets.isEmpty ? "-" : o.secrets.joined(separator: ",")
        let pii = o.pii.isEmpty ? "-" : o.pii.map { "\($0.type)x\($0.count)" }.joined(separator: ",")
        var cells = [String(row.index), row.method, row.url]
        var verdicts: [String] = []
        if let before = row.before {
            cells.append("\(before.verdict) \(before.reason)")
            verdicts.append(before.verdict)
        }
        cells += [o.verdict, o.reason, o.rule ?? "-", secrets, pii, notes.joined(separator: "; ")]
        verdicts.append(o.verdict)
        return (cells, verdicts)
    }

    private func render(_ line: (cells: [String], verdicts: [String]), header: Bool = false) -> String {
        guard let widths else { return "" }
        var out = ""
        let decisionColumns = against ? [3, 4] : [3]
        for (i, raw) in line.cells.enumerated() {
            let last = i == line.cells.count - 1
            var cell = raw
            if !last && cell.count > widths[i] {
                cell = String(cell.prefix(max(0, widths[i] - 1))) + "…"
            }
            let padded = last ? cell : cell + String(repeating: " ", count: max(0, widths[i] - cell.count))
            if header {
                out += color ? "\u{1B}[1m" + padded + "\u{1B}[0m" : padded
            } else if let k = decisionColumns.firstIndex(of: i), k < line.verdicts.count {
                out += paint(padded, line.verdicts[k])
            } else {
                out += padded
            }
            if !last { out += "  " }
        }
        while out.hasSuffix(" ") { out.removeLast() }
        return out + "\n"
    }

    private func paint(_ text: String, _ verdict: String) -> String {
        guard color else { return text }
        switch verdict {
        case "allow": return "\u{1B}[32m" + text + "\u{1B}[0m"
        case "deny": return "\u{1B}[31m" + text + "\u{1B}[0m"
        default: return "\u{1B}[2m" + text + "\u{1B}[0m"
        }
    }
}
