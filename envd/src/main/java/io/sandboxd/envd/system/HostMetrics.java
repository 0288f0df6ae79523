package io.sandboxd.envd.system;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /metrics}: CPU use since the previous sample (from {@code /proc/stat}), memory from
 * {@code /proc/meminfo}, disk of the root filesystem. Field names are the SDK's (spec 3.1).
 */
public final class HostMetrics {
    private final Path procStat;
    private final Path procMeminfo;
    private final Path disk;
    private long[] lastCpu;

    public HostMetrics(Path procStat, Path procMeminfo, Path disk) {
        this.procStat = procStat;
        this.procMeminfo = procMeminfo;
        this.disk = disk;
        this.lastCpu = cpuTicks();
    }

    public static HostMetrics system() {
        return new HostMetrics(Path.of("/proc/stat"), Path.of("/proc/meminfo"), Path.of("/"));
    }

    public synchronized Map<String, Object> sample() throws IOException {
        long[] now = cpuTicks();
        double pct = 0;
        if (lastCpu != null && now != null) {
            long busy = (now[0] - now[1]) - (lastCpu[0] - lastCpu[1]);
            long total = now[0] - lastCpu[0];
            pct = total > 0 ? Math.max(0, Math.min(100, 100.0 * busy / total)) : 0;
        }
        lastCpu = now;
        Map<String, Long> mem = meminfo();
        long total = mem.getOrDefault("MemTotal", 0L);
        long free = mem.getOrDefault("MemFree", 0L);
        long buffers = mem.getOrDefault("Buffers", 0L);
        long cached = mem.getOrDefault("Cached", 0L) + mem.getOrDefault("SReclaimable", 0L);
        long available = mem.getOrDefault("MemAvailable", free + buffers + cached);
        long used = Math.max(0, total - available);
        FileStore store = Files.getFileStore(disk);
        long diskTotal = store.getTotalSpace();
        long diskUsed = diskTotal - store.getUnallocatedSpace();

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ts", System.currentTimeMillis() / 1000);
        m.put("cpu_count", Runtime.getRuntime().availableProcessors());
        m.put("cpu_used_pct", Math.round(pct * 100) / 100.0);
        m.put("mem_total", total);
        m.put("mem_used", used);
        m.put("mem_cache", cached);
        m.put("mem_total_mib", total >> 20);
        m.put("mem_used_mib", used >> 20);
        m.put("disk_used", diskUsed);
        m.put("disk_total", diskTotal);
        return m;
    }

    /** {total, idle+iowait} jiffies of the {@code cpu} line, or null when unreadable. */
    private long[] cpuTicks() {
        try {
            for (String line : Files.readAllLines(procStat)) {
                if (line.startsWith("cpu ")) {
                    String[] f = line.trim().split("\\s+");
                    long total = 0;
                    for (int i = 1; i < f.length && i <= 8; i++) {
                        total += Long.parseLong(f[i]);
                    }
                    long idle = Long.parseLong(f[4]) + (f.length > 5 ? Long.parseLong(f[5]) : 0);
                    return new long[] {total, idle};
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /** meminfo values in bytes. */
    private Map<String, Long> meminfo() throws IOException {
        Map<String, Long> m = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(procMeminfo);
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String[] v = line.substring(colon + 1).trim().split("\\s+");
            try {
                long n = Long.parseLong(v[0]);
                m.put(line.substring(0, colon), v.length > 1 && v[1].equals("kB") ? n * 1024 : n);
            } catch (NumberFormatException e) {
                // skip lines that are not "Name: number [kB]"
            }
        }
        return m;
    }
}
