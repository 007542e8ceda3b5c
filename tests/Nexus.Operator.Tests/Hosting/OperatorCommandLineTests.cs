using System.CommandLine;
using Nexus.Operator.Hosting;

namespace Nexus.Operator.Tests.Hosting;

public class OperatorCommandLineTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Defaults_WatchAllNamespacesWithLeaderElectionOnPort8080()
    {
        var options = OperatorCommandLine.Parse([], NoEnvironment);

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
             "--lease-name", "nexus", "--identity", "pod-1", "--log-format", "text"],
            NoEnvironment);

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
        Assert.Throws<FormatException>(() => OperatorCommandLine.Parse([name, value], NoEnvironment));
    }

    [Fact]
    public void MissingValue_IsRejected()
    {
        Assert.Throws<FormatException>(() => OperatorCommandLine.Parse(["--namespace", "--leader-elect", "true"], NoEnvironment));
    }
}

public class CrdsCommandTests
{
    [Fact]
    public void Crds_WritesTheCommittedCustomResourceDefinitionsAndReference()
    {
        var output = Directory.CreateTempSubdirectory("crds-");
        try
        {
            var exitCode = OperatorCommands.CreateRoot((_, _) => throw new InvalidOperationException("crds must not run the operator"))
                .Parse(["crds", "--out", output.FullName, "--reference", Path.Combine(output.FullName, "reference", "crds.md")]).Invoke();

            Assert.Equal(0, exitCode);
            var committed = Path.Combine(RepositoryRoot.Path, "crds");
            var written = output.GetFiles().Select(file => file.Name).Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "reference", "crds.md")),
                File.ReadAllText(Path.Combine(output.FullName, "reference", "crds.md")));
            Assert.Equal(Directory.GetFiles(committed).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray(), written);
            foreach (var name in written)
                Assert.Equal(File.ReadAllText(Path.Combine(committed, name)), File.ReadAllText(Path.Combine(output.FullName, name)));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

}
