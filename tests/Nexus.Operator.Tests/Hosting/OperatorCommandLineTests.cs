using Nexus.Operator.Hosting;

namespace Nexus.Operator.Tests.Hosting;

public class OperatorCommandLineTests
{
    [Fact]
    public void Defaults_WatchAllNamespacesWithLeaderElectionOnPort8080()
    {
        var options = OperatorCommandLine.Parse([]);

        Assert.Null(options.Namespace);
        Assert.Equal(8080, options.MetricsPort);
        Assert.True(options.LeaderElect);
        Assert.Equal("nexus-operator", options.LeaseName);
        Assert.True(options.JsonLogs);
    }

    [Fact]
    public void RunWithEveryOption_IsParsed()
    {
        var options = OperatorCommandLine.Parse(
            ["run", "--namespace", "ml", "--metrics-port=9090", "--leader-elect", "false", "--lease-namespace", "ops",
             "--lease-name", "nexus", "--identity", "pod-1", "--log-format", "text"]);

        Assert.Equal(
            new OperatorCommandLine
            {
                Namespace = "ml", MetricsPort = 9090, LeaderElect = false, LeaseNamespace = "ops", LeaseName = "nexus",
                Identity = "pod-1", JsonLogs = false,
            },
            options);
    }

    [Theory]
    [InlineData("--metrics-port", "http")]
    [InlineData("--metrics-port", "70000")]
    [InlineData("--leader-elect", "yes")]
    [InlineData("--log-format", "xml")]
    [InlineData("--unknown", "x")]
    public void InvalidOptions_AreRejected(string name, string value)
    {
        Assert.Throws<FormatException>(() => OperatorCommandLine.Parse([name, value]));
    }

    [Fact]
    public void MissingValue_IsRejected()
    {
        Assert.Throws<FormatException>(() => OperatorCommandLine.Parse(["--namespace", "--leader-elect", "true"]));
    }
}
