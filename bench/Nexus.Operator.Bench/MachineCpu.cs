using System.Globalization;

namespace Nexus.Operator.Bench;

/// <summary>The whole machine's CPU time from the first line of /proc/stat, to tell whether the cores were saturated
/// during a phase and how much of them other processes or the hypervisor (steal) took.</summary>
internal sealed record MachineCpu(double BusySeconds, double IdleSeconds, double StealSeconds)
{
    // /proc/stat counts in USER_HZ, which is 100 on Linux.
    private const double TicksPerSecond = 100;

    public static MachineCpu Read()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(field => double.Parse(field, CultureInfo.InvariantCulture) / TicksPerSecond)
            .ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already counted in user).
        var idle = fields[3] + fields[4];
        var steal = fields[7];
        var busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6];
        return new MachineCpu(busy, idle, steal);
    }

    public MachineCpu Minus(MachineCpu earlier) =>
        new(BusySeconds - earlier.BusySeconds, IdleSeconds - earlier.IdleSeconds, StealSeconds - earlier.StealSeconds);
}
