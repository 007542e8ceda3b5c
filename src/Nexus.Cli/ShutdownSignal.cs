using System.Runtime.InteropServices;

namespace Nexus.Cli;

/// <summary>
/// Turns SIGINT (Ctrl+C) and SIGTERM (Kubernetes stopping a pod) into a cancellation, so a step can
/// checkpoint and exit cleanly instead of being killed mid-write.
/// </summary>
public sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration[] registrations;
    private readonly string stopping;

    /// <param name="stopping">What the command does on the signal, for the line it prints.</param>
    public ShutdownSignal(string stopping = "stopping at the next step boundary")
    {
        this.stopping = stopping;
        registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Token => source.Token;

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Console.Error.WriteLine($"\nnexus: {context.Signal} received; {stopping}.");
        source.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in registrations) registration.Dispose();
        source.Dispose();
    }
}
