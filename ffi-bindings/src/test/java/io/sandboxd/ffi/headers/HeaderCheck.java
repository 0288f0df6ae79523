package io.sandboxd.ffi.headers;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.PaddingLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compares the Java side of one native area (struct layouts and constants) with what its C probe prints.
 *
 * <p>Both directions are checked: every struct, field and constant the probe prints must be bound in Java with the
 * same size, offset and value, and every named member of a registered Java struct must appear in the probe (so a
 * field cannot be added in Java without being verified).
 */
public final class HeaderCheck {
    private final String area;
    private final Map<String, MemoryLayout> structs = new LinkedHashMap<>();
    private final Map<String, Long> constants = new LinkedHashMap<>();

    public HeaderCheck(String area) {
        this.area = area;
    }

    public HeaderCheck struct(String cName, MemoryLayout layout) {
        if (structs.put(cName, layout) != null) {
            throw new IllegalArgumentException("struct " + cName + " registered twice");
        }
        return this;
    }

    public HeaderCheck constant(String cName, long value) {
        if (constants.put(cName, value) != null) {
            throw new IllegalArgumentException("constant " + cName + " registered twice");
        }
        return this;
    }

    public int structCount() {
        return structs.size();
    }

    /** Runs the area's probe and fails with every mismatch listed. */
    public void verify() throws Exception {
        List<String> problems = compare(HeaderProbe.run(area));
        if (!problems.isEmpty()) {
            throw new AssertionError(area + ": Java bindings disagree with the system headers:\n  "
                    + String.join("\n  ", problems));
        }
    }

    /** All disagreements between the Java side and a probe's output; empty when they agree. */
    public List<String> compare(HeaderProbe.Output probe) {
        List<String> problems = new ArrayList<>();
        probe.structs().forEach((name, size) -> {
            MemoryLayout java = structs.get(name);
            if (java == null) {
                problems.add("struct " + name + " is in the probe but not bound in Java");
            } else if (java.byteSize() != size) {
                problems.add("struct " + name + ": size " + size + " in C, " + java.byteSize() + " in Java");
            }
        });
        structs.forEach((name, layout) -> {
            if (!probe.structs().containsKey(name)) {
                problems.add("struct " + name + " is bound in Java but the probe does not print it");
            }
        });
        probe.fields().forEach((path, fact) -> {
            int dot = path.indexOf('.');
            MemoryLayout java = structs.get(path.substring(0, dot));
            if (java == null) {
                problems.add("field " + path + ": its struct is not bound in Java");
                return;
            }
            PathElement[] elements = pathOf(path.substring(dot + 1));
            try {
                long offset = java.byteOffset(elements);
                long size = java.select(elements).byteSize();
                if (offset != fact.offset()) {
                    problems.add("field " + path + ": offset " + fact.offset() + " in C, " + offset + " in Java");
                }
                if (size != fact.size()) {
                    problems.add("field " + path + ": size " + fact.size() + " in C, " + size + " in Java");
                }
            } catch (IllegalArgumentException e) {
                problems.add("field " + path + " is in the probe but not in the Java layout");
            }
        });
        structs.forEach((name, layout) -> {
            if (layout instanceof GroupLayout group) {
                for (MemoryLayout member : group.memberLayouts()) {
                    if (member instanceof PaddingLayout || member.name().isEmpty()) {
                        continue;
                    }
                    String path = name + "." + member.name().get();
                    if (probe.structs().containsKey(name) && !probe.fields().containsKey(path)) {
                        problems.add("field " + path + " is in the Java layout but the probe does not check it");
                    }
                }
            }
        });
        probe.constants().forEach((name, value) -> {
            Long java = constants.get(name);
            if (java == null) {
                problems.add("const " + name + " is in the probe but not bound in Java");
            } else if (java.longValue() != value) {
                problems.add("const " + name + ": " + value + " (0x" + Long.toHexString(value) + ") in C, "
                        + java + " (0x" + Long.toHexString(java) + ") in Java");
            }
        });
        constants.forEach((name, value) -> {
            if (!probe.constants().containsKey(name)) {
                problems.add("const " + name + " is bound in Java but the probe does not print it");
            }
        });
        return problems;
    }

    /** {@code "io.port"} to group elements; {@code "sregs.cs.base"} likewise; {@code "entries[3]"} is not used. */
    private static PathElement[] pathOf(String dotted) {
        String[] parts = dotted.split("\\.");
        PathElement[] out = new PathElement[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = PathElement.groupElement(parts[i]);
        }
        return out;
    }
}
