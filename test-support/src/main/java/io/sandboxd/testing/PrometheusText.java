package io.sandboxd.testing;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), written from the format's description
 * so that tests can check what {@code /metrics} serves the way a scraper would read it, not by looking for
 * substrings. It refuses what a scraper refuses or what the format forbids: a line that is neither a comment nor a
 * sample, bad metric or label names, reserved {@code __} label names, bad escapes, a value that is not a float, a
 * {@code TYPE} or {@code HELP} given twice or a {@code TYPE} after its samples, a family split into two groups,
 * duplicate series, histograms without an {@code le} on a bucket, without the {@code +Inf} bucket, with buckets that
 * decrease or a {@code _count} that differs from the {@code +Inf} bucket, and a body that does not end in a newline.
 */
public final class PrometheusText {
    private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    /** One series' value. */
    public record Sample(String name, Map<String, String> labels, double value) {}

    /** A metric family: its type ({@code untyped} when none was given), help and samples. */
    public record Family(String name, String type, String help, List<Sample> samples) {}

    private final Map<String, Family> families;

    private PrometheusText(Map<String, Family> families) {
        this.families = families;
    }

    /** Parses {@code text} or throws {@link IllegalArgumentException} naming the line and what is wrong with it. */
    public static PrometheusText parse(String text) {
        return new Parser(text).parse();
    }

    public Map<String, Family> families() {
        return families;
    }

    /** The family {@code name}, or an assertion-style error listing the families there are. */
    public Family family(String name) {
        Family f = families.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no metric family " + name + " in " + families.keySet());
        }
        return f;
    }

    /**
     * The value of the series {@code name} whose labels are exactly {@code labels} (name, value, name, value...), or
     * 0 when there is no such series (a counter that never moved is not exposed until it does).
     */
    public double value(String name, String... labels) {
        Map<String, String> want = new TreeMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        for (Family f : families.values()) {
            for (Sample s : f.samples()) {
                if (s.name().equals(name) && s.labels().equals(want)) {
                    return s.value();
                }
            }
        }
        return 0;
    }

    private static final class Parser {
        private final String text;
        private final Map<String, String> types = new LinkedHashMap<>();
        private final Map<String, String> helps = new LinkedHashMap<>();
        private final Map<String, List<Sample>> samples = new LinkedHashMap<>();
        private final Set<String> closed = new HashSet<>();
        private final Set<String> series = new HashSet<>();
        private String current;
        private int lineNo;

        Parser(String text) {
            this.text = text;
        }

        PrometheusText parse() {
            if (!text.isEmpty() && !text.endsWith("\n")) {
                throw new IllegalArgumentException("the exposition must end with a newline");
            }
            for (String line : text.split("\n", -1)) {
                lineNo++;
                if (line.isEmpty()) {
                    continue;
                }
                if (line.startsWith("#")) {
                    comment(line);
                } else {
                    sample(line);
                }
            }
            Map<String, Family> out = new LinkedHashMap<>();
            Set<String> names = new java.util.LinkedHashSet<>(types.keySet());
            names.addAll(samples.keySet());
            for (String family : names) {
                String type = types.getOrDefault(family, "untyped");
                List<Sample> s = samples.getOrDefault(family, List.of());
                if (type.equals("histogram")) {
                    checkHistogram(family, s);
                }
                out.put(family, new Family(family, type, helps.get(family), List.copyOf(s)));
            }
            return new PrometheusText(out);
        }

        private IllegalArgumentException bad(String what) {
            return new IllegalArgumentException("line " + lineNo + ": " + what);
        }

        private void comment(String line) {
            String[] parts = line.split(" ", 4);
            if (parts.length < 3 || !parts[0].equals("#") || !(parts[1].equals("HELP") || parts[1].equals("TYPE"))) {
                return; // a plain comment
            }
            String name = parts[2];
            if (!METRIC_NAME.matcher(name).matches()) {
                throw bad("bad metric name '" + name + "' in " + parts[1]);
            }
            enter(name);
            if (parts[1].equals("TYPE")) {
                String type = parts.length == 4 ? parts[3] : "";
                if (!TYPES.contains(type)) {
                    throw bad("unknown type '" + type + "' for " + name);
                }
                if (types.putIfAbsent(name, type) != null) {
                    throw bad("a second TYPE for " + name);
                }
                if (samples.containsKey(name)) {
                    throw bad("TYPE of " + name + " after its samples");
                }
            } else {
                String help = parts.length == 4 ? unescape(parts[3], false) : "";
                if (helps.putIfAbsent(name, help) != null) {
                    throw bad("a second HELP for " + name);
                }
            }
        }

        /** Lines of one family come in one group: once another family starts, this one is closed. */
        private void enter(String family) {
            if (family.equals(current)) {
                return;
            }
            if (closed.contains(family)) {
                throw bad("metric family " + family + " appears in two separate groups");
            }
            if (current != null) {
                closed.add(current);
            }
            current = family;
        }

        /** The family a sample belongs to: histogram and summary samples carry suffixes. */
        private String familyOf(String name) {
            for (String suffix : List.of("_bucket", "_sum", "_count")) {
                if (name.endsWith(suffix)) {
                    String base = name.substring(0, name.length() - suffix.length());
                    String t = types.get(base);
                    if ("histogram".equals(t) || ("summary".equals(t) && !suffix.equals("_bucket"))) {
                        return base;
                    }
                }
            }
            return name;
        }

        private void sample(String line) {
            int i = 0;
            while (i < line.length() && line.charAt(i) != '{' && line.charAt(i) != ' ') {
                i++;
            }
            String name = line.substring(0, i);
            if (!METRIC_NAME.matcher(name).matches()) {
                throw bad("bad metric name '" + name + "'");
            }
            Map<String, String> labels = new TreeMap<>();
            if (i < line.length() && line.charAt(i) == '{') {
                i = labels(line, i + 1, labels);
            }
            if (i >= line.length() || line.charAt(i) != ' ') {
                throw bad("no value after " + name);
            }
            String[] rest = line.substring(i + 1).strip().split(" +");
            if (rest.length < 1 || rest.length > 2 || rest[0].isEmpty()) {
                throw bad("expected a value and an optional timestamp, got '" + line.substring(i + 1) + "'");
            }
            double value = number(rest[0]);
            if (rest.length == 2) {
                try {
                    Long.parseLong(rest[1]);
                } catch (NumberFormatException e) {
                    throw bad("bad timestamp '" + rest[1] + "'");
                }
            }
            String family = familyOf(name);
            enter(family);
            if (!series.add(name + labels)) {
                throw bad("duplicate series " + name + labels);
            }
            samples.computeIfAbsent(family, k -> new ArrayList<>()).add(new Sample(name, Map.copyOf(labels), value));
        }

        /** Parses {@code name="value",...}} from {@code i}; returns the index after the closing brace. */
        private int labels(String line, int i, Map<String, String> labels) {
            while (true) {
                if (i < line.length() && line.charAt(i) == '}') {
                    return i + 1;
                }
                int eq = line.indexOf('=', i);
                if (eq < 0) {
                    throw bad("unterminated label set");
                }
                String label = line.substring(i, eq);
                if (!LABEL_NAME.matcher(label).matches() || label.startsWith("__")) {
                    throw bad("bad label name '" + label + "'");
                }
                if (eq + 1 >= line.length() || line.charAt(eq + 1) != '"') {
                    throw bad("label " + label + " has no quoted value");
                }
                StringBuilder value = new StringBuilder();
                int j = eq + 2;
                while (true) {
                    if (j >= line.length()) {
                        throw bad("unterminated value of label " + label);
                    }
                    char c = line.charAt(j);
                    if (c == '"') {
                        break;
                    }
                    if (c == '\\') {
                        if (j + 1 >= line.length()) {
                            throw bad("dangling backslash in label " + label);
                        }
                        char e = line.charAt(j + 1);
                        value.append(switch (e) {
                            case '\\' -> '\\';
                            case '"' -> '"';
                            case 'n' -> '\n';
                            default -> throw bad("bad escape \\" + e + " in label " + label);
                        });
                        j += 2;
                        continue;
                    }
                    value.append(c);
                    j++;
                }
                if (labels.put(label, value.toString()) != null) {
                    throw bad("label " + label + " given twice");
                }
                i = j + 1;
                if (i < line.length() && line.charAt(i) == ',') {
                    i++;
                } else if (i >= line.length() || line.charAt(i) != '}') {
                    throw bad("expected , or } after label " + label);
                }
            }
        }

        private double number(String s) {
            switch (s) {
                case "+Inf", "Inf":
                    return Double.POSITIVE_INFINITY;
                case "-Inf":
                    return Double.NEGATIVE_INFINITY;
                case "NaN":
                    return Double.NaN;
                default:
                    break;
            }
            // Go's ParseFloat: decimal or exponent notation; Java would also take "1d", "0x1p3" and "Infinity".
            if (!s.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) {
                throw bad("bad value '" + s + "'");
            }
            return Double.parseDouble(s);
        }

        private String unescape(String s, boolean quotes) {
            StringBuilder out = new StringBuilder();
            for (int j = 0; j < s.length(); j++) {
                char c = s.charAt(j);
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (j + 1 >= s.length()) {
                    throw bad("dangling backslash");
                }
                char e = s.charAt(++j);
                out.append(switch (e) {
                    case '\\' -> '\\';
                    case 'n' -> '\n';
                    case '"' -> {
                        if (!quotes) {
                            throw bad("bad escape \\\" in HELP");
                        }
                        yield '"';
                    }
                    default -> throw bad("bad escape \\" + e);
                });
            }
            return out.toString();
        }

        private void checkHistogram(String family, List<Sample> all) {
            Map<Map<String, String>, TreeMap<Double, Double>> buckets = new LinkedHashMap<>();
            Map<Map<String, String>, Double> counts = new LinkedHashMap<>();
            for (Sample s : all) {
                if (s.name().equals(family + "_bucket")) {
                    String le = s.labels().get("le");
                    if (le == null) {
                        throw new IllegalArgumentException(family + ": a bucket without le");
                    }
                    Map<String, String> rest = new TreeMap<>(s.labels());
                    rest.remove("le");
                    buckets.computeIfAbsent(rest, k -> new TreeMap<>()).put(parseLe(family, le), s.value());
                } else if (s.name().equals(family + "_count")) {
                    counts.put(s.labels(), s.value());
                } else if (!s.name().equals(family + "_sum")) {
                    throw new IllegalArgumentException(family + ": sample " + s.name() + " in a histogram");
                }
            }
            for (var e : buckets.entrySet()) {
                double previous = 0;
                for (double v : e.getValue().values()) {
                    if (v < previous) {
                        throw new IllegalArgumentException(family + e.getKey() + ": buckets decrease");
                    }
                    previous = v;
                }
                Double inf = e.getValue().get(Double.POSITIVE_INFINITY);
                if (inf == null) {
                    throw new IllegalArgumentException(family + e.getKey() + ": no +Inf bucket");
                }
                Double count = counts.get(e.getKey());
                if (count == null || count.doubleValue() != inf.doubleValue()) {
                    throw new IllegalArgumentException(family + e.getKey() + ": _count " + count
                            + " differs from the +Inf bucket " + inf);
                }
            }
        }

        private double parseLe(String family, String le) {
            try {
                return number(le);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(family + ": bad le '" + le + "'");
            }
        }
    }
}
