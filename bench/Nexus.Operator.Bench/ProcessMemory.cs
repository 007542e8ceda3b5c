using System.Globalization;

namespace Nexus.Operator.Bench;

/// <summary>This process's memory as the kernel and the GC see it.</summary>
/// <param name="RssBytes">VmRSS: resident now.</param>
/// <param name="PeakRssBytes">VmHWM: the most ever resident.</param>
/// <param name="GcHeapBytes">Bytes allocated on the managed heap and not yet collected (garbage included).</param>
/// <param name="GcCommittedBytes">Memory the GC has committed (heap plus its free space kept for reuse).</param>
/// <param name="GcCollections">Collections so far, of any generation.</param>
internal sealed record ProcessMemory(long RssBytes, long PeakRssBytes, long GcHeapBytes, long GcCommittedBytes, int GcCollections)
{
    public static ProcessMemory Read() => new(
        StatusBytes("VmRSS:"),
        StatusBytes("VmHWM:"),
        GC.GetTotalMemory(forceFullCollection: false),
        GC.GetGCMemoryInfo().TotalCommittedBytes,
        GC.CollectionCount(0));

    /// <summary>Managed bytes still reachable, after a full blocking collection (which changes what follows: call last).</summary>
    public static long LiveManagedBytes() => GC.GetTotalMemory(forceFullCollection: true);

    private static long StatusBytes(string field)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"/proc/self/status has no {field}");
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}
