using Nexus.Operator.Caching;

namespace Nexus.Operator.Tests.Support;

public static class TestInformers
{
    /// <summary>Informers for tests against the test API server: reconnect within a fraction of a second, no resync.</summary>
    public static readonly InformerOptions QuickRetries = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
        ResyncPeriod = TimeSpan.Zero,
    };
}
