namespace Nexus.Operator.Hosting;

/// <summary>Leader election on a coordination.k8s.io Lease. The defaults are client-go's.</summary>
public sealed record LeaderElectionOptions
{
    /// <summary>False runs the controllers at once (a single replica, or local development).</summary>
    public bool Enabled { get; init; } = true;

    public string LeaseNamespace { get; init; } = "default";

    public string LeaseName { get; init; } = "nexus-operator";

    /// <summary>This replica's name in the Lease; unique per process.</summary>
    public string Identity { get; init; } = DefaultIdentity();

    /// <summary>How long a Lease holds without renewal; a standby takes over after this when the leader vanishes.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The leader gives up leading when it could not renew for this long, before others may take over.</summary>
    public TimeSpan RenewDeadline { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>On graceful shutdown, empty the Lease's holder so a standby takes over within a retry period
    /// instead of waiting out the lease (KubernetesClient's elector does not release on its own).</summary>
    public bool ReleaseOnShutdown { get; init; } = true;

    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(LeaseNamespace) || string.IsNullOrWhiteSpace(LeaseName) || string.IsNullOrWhiteSpace(Identity))
        {
            throw new ArgumentException("Leader election needs a lease namespace, a lease name and an identity.");
        }

        if (!(LeaseDuration > RenewDeadline && RenewDeadline > RetryPeriod && RetryPeriod > TimeSpan.Zero))
        {
            throw new ArgumentException(
                $"Leader election needs LeaseDuration > RenewDeadline > RetryPeriod > 0 (got {LeaseDuration}, {RenewDeadline}, {RetryPeriod}).");
        }
    }

    /// <summary>The pod name when the Deployment passes it in, else the host name, plus a random suffix so a restarted
    /// process never mistakes the previous one's Lease for its own.</summary>
    public static string DefaultIdentity() =>
        $"{Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName}_{Guid.NewGuid():N}";
}
