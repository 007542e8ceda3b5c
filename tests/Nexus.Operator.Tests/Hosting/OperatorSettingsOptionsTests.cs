using System.Collections;
using System.Reflection;
using Nexus.Operator.Hosting;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Hosting;

/// <summary>
/// The options of <c>nexus-operator run</c> that set <see cref="OperatorSettings"/>: flag, else environment variable,
/// else default; invalid values exit 2 before the operator runs. The environment is a dictionary passed to the parser,
/// never the process's.
/// </summary>
public class OperatorSettingsOptionsTests
{
    private static readonly string[] EveryFlag =
    [
        "--worker-image", "registry.example/nexus-worker:1.2.3",
        "--worker-image-pull-policy", "Always",
        "--artifact-root", "s3://ml-artifacts/nexus",
        "--s3-endpoint", "http://minio.nexus:9000",
        "--s3-region", "eu-west-3",
        "--s3-credentials-secret", "minio-credentials",
        "--default-gpu-resource-name", "amd.com/gpu",
        "--worker-service-account", "nexus-runner",
        "--job-backoff-limit", "0",
        "--job-ttl-seconds-after-finished", "600",
        "--scratch-size-limit", "20Gi",
        "--serving-startup-timeout-seconds", "900",
        "--vllm-image", "registry.example/vllm-openai:v0.10.2",
        "--vllm-dtype", "f16",
        "--active-deadline", "train=3600",
        "--active-deadline", "import=60,embed=61,upcycle=62,finetune=63,extend=64,remove=65,evaluate=66",
    ];

    private static readonly Dictionary<string, string> EveryVariable = new()
    {
        ["NEXUS_WORKER_IMAGE"] = "registry.example/nexus-worker:1.2.3",
        ["NEXUS_WORKER_IMAGE_PULL_POLICY"] = "Always",
        ["NEXUS_ARTIFACT_ROOT"] = "s3://ml-artifacts/nexus",
        ["NEXUS_S3_ENDPOINT"] = "http://minio.nexus:9000",
        ["NEXUS_S3_REGION"] = "eu-west-3",
        ["NEXUS_S3_CREDENTIALS_SECRET"] = "minio-credentials",
        ["NEXUS_DEFAULT_GPU_RESOURCE_NAME"] = "amd.com/gpu",
        ["NEXUS_WORKER_SERVICE_ACCOUNT"] = "nexus-runner",
        ["NEXUS_JOB_BACKOFF_LIMIT"] = "0",
        ["NEXUS_JOB_TTL_SECONDS_AFTER_FINISHED"] = "600",
        ["NEXUS_SCRATCH_SIZE_LIMIT"] = "20Gi",
        ["NEXUS_SERVING_STARTUP_TIMEOUT_SECONDS"] = "900",
        ["NEXUS_VLLM_IMAGE"] = "registry.example/vllm-openai:v0.10.2",
        ["NEXUS_VLLM_DTYPE"] = "f16",
        ["NEXUS_ACTIVE_DEADLINE"] = "train=3600, import=60,embed=61,upcycle=62,finetune=63,extend=64,remove=65,evaluate=66",
    };

    private static Func<string, string?> Environment(IReadOnlyDictionary<string, string>? variables = null) =>
        name => variables is not null && variables.TryGetValue(name, out var value) ? value : null;

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        Environment(variables.ToDictionary(variable => variable.Name, variable => variable.Value));

    [Fact]
    public void NoFlagsAndNoVariables_GiveTheDefaults()
    {
        var options = OperatorCommandLine.Parse(["run"], Environment());

        Assert.Equal(new OperatorSettings(), options.Settings);
    }

    [Fact]
    public void EveryFlag_SetsItsSetting()
    {
        AssertEverySettingFromTheExample(OperatorCommandLine.Parse(["run", .. EveryFlag], Environment()).Settings);
    }

    [Fact]
    public void EveryVariable_SetsItsSetting_WhenItsFlagIsAbsent()
    {
        AssertEverySettingFromTheExample(OperatorCommandLine.Parse(["run"], Environment(EveryVariable)).Settings);
    }

    [Fact]
    public void EverySettingChangedByTheExample_SoEveryOperatorSettingsPropertyHasAFlag()
    {
        var defaults = new OperatorSettings();
        var parsed = OperatorCommandLine.Parse(EveryFlag, Environment()).Settings;

        foreach (var property in typeof(OperatorSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var before = property.GetValue(defaults);
            var after = property.GetValue(parsed);
            var same = before is IEnumerable beforeItems && after is IEnumerable afterItems
                ? beforeItems.Cast<object>().SequenceEqual(afterItems.Cast<object>())
                : Equals(before, after);
            Assert.False(same, $"No flag in the example changed OperatorSettings.{property.Name}; give it an option.");
        }
    }

    [Fact]
    public void TheFlag_BeatsTheVariable()
    {
        var options = OperatorCommandLine.Parse(
            ["run", "--artifact-root", "s3://from-flag/runs", "--job-backoff-limit", "7", "--active-deadline", "finetune=7200"],
            Environment(EveryVariable));

        Assert.Equal("s3://from-flag/runs", options.Settings.ArtifactRoot);
        Assert.Equal(7, options.Settings.JobBackoffLimit);
        Assert.Equal(7200, options.Settings.ActiveDeadlineSecondsOf(StepKind.Finetune));
        // A flag replaces its variable whole: the variable's train entry is not used, train keeps its default.
        Assert.Equal(OperatorSettings.DefaultActiveDeadlineSeconds[StepKind.Train], options.Settings.ActiveDeadlineSecondsOf(StepKind.Train));
        // Settings without a flag still come from their variables.
        Assert.Equal("http://minio.nexus:9000", options.Settings.S3Endpoint);
    }

    [Fact]
    public void AnEmptyVariable_CountsAsUnset()
    {
        var options = OperatorCommandLine.Parse(["run"], Environment(("NEXUS_WORKER_IMAGE", ""), ("NEXUS_JOB_BACKOFF_LIMIT", "")));

        Assert.Equal(new OperatorSettings(), options.Settings);
    }

    [Fact]
    public void ActiveDeadline_SetsOnlyTheStepsItNames_LaterEntriesWinning()
    {
        var options = OperatorCommandLine.Parse(
            ["run", "--active-deadline", "Train=100", "--active-deadline", "evaluate=200,train=300"], Environment());

        var deadlines = options.Settings.ActiveDeadlineSeconds;
        Assert.Equal(300, deadlines[StepKind.Train]);
        Assert.Equal(200, deadlines[StepKind.Evaluate]);
        Assert.Equal(OperatorSettings.DefaultActiveDeadlineSeconds[StepKind.Embed], deadlines[StepKind.Embed]);
        Assert.Equal(StepKinds.All.Count, deadlines.Count);
    }

    [Fact]
    public async Task TheRootCommand_TakesTheSameSettingsAsRun()
    {
        OperatorCommandLine? received = null;
        var error = new StringWriter();

        var exitCode = await OperatorCommands.InvokeAsync(
            ["--worker-image", "registry.example/nexus-worker:2.0.0"],
            (options, _) =>
            {
                received = options;
                return Task.FromResult(7);
            },
            error,
            Environment(("NEXUS_S3_REGION", "ap-south-1")));

        Assert.Equal(7, exitCode);
        Assert.Equal("", error.ToString());
        Assert.Equal("registry.example/nexus-worker:2.0.0", received!.Settings.WorkerImage);
        Assert.Equal("ap-south-1", received.Settings.S3Region);
    }

    [Theory]
    [InlineData("--artifact-root", "/tmp/x")]
    [InlineData("--artifact-root", "s3://")]
    [InlineData("--job-backoff-limit", "-1")]
    [InlineData("--job-backoff-limit", "three")]
    [InlineData("--job-ttl-seconds-after-finished", "-5")]
    [InlineData("--serving-startup-timeout-seconds", "5")]
    [InlineData("--worker-image-pull-policy", "Sometimes")]
    [InlineData("--vllm-image", "vllm/vllm-openai latest")]
    [InlineData("--vllm-dtype", "int8")]
    [InlineData("--s3-endpoint", "minio:9000")]
    [InlineData("--s3-credentials-secret", "S3_Credentials")]
    [InlineData("--scratch-size-limit", "lots")]
    [InlineData("--active-deadline", "train=abc")]
    [InlineData("--active-deadline", "fit=3600")]
    [InlineData("--active-deadline", "train")]
    [InlineData("--active-deadline", "embed=0")]
    public async Task ABadFlag_ExitsWith2_WithOneLineNamingTheFlagAndItsVariable(string flag, string value)
    {
        var (exitCode, problems, ran) = await InvokeAsync(["run", flag, value], Environment());

        Assert.Equal(2, exitCode);
        Assert.False(ran, "the operator must not run with invalid settings");
        var problem = Assert.Single(problems);
        Assert.StartsWith($"nexus-operator: {flag} (or {OperatorSettingsOptions.VariableOf(flag)}): ", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(OperatorSettings), problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("NEXUS_ARTIFACT_ROOT", "file:///srv/artifacts", "--artifact-root")]
    [InlineData("NEXUS_JOB_BACKOFF_LIMIT", "-1", "--job-backoff-limit")]
    [InlineData("NEXUS_VLLM_IMAGE", " ", "--vllm-image")]
    [InlineData("NEXUS_VLLM_DTYPE", "fp8", "--vllm-dtype")]
    [InlineData("NEXUS_ACTIVE_DEADLINE", "train=abc", "--active-deadline")]
    [InlineData("NEXUS_ACTIVE_DEADLINE", "fit=3600", "--active-deadline")]
    public async Task ABadVariable_ExitsWith2_NamingTheVariableThenTheFlag(string variable, string value, string flag)
    {
        var (exitCode, problems, ran) = await InvokeAsync(["run"], Environment((variable, value)));

        Assert.Equal(2, exitCode);
        Assert.False(ran);
        Assert.StartsWith($"nexus-operator: {variable} (or {flag}): ", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadValuesGiveTheirMessagesAndFixes_EveryProblemReported()
    {
        var (exitCode, problems, _) = await InvokeAsync(
            ["run", "--artifact-root", "/tmp/x", "--active-deadline", "train=abc", "--active-deadline", "fit=1,embed=-3"],
            Environment(("NEXUS_JOB_BACKOFF_LIMIT", "-1")));

        Assert.Equal(2, exitCode);
        Assert.Equal(
            [
                "nexus-operator: --active-deadline (or NEXUS_ACTIVE_DEADLINE): 'abc' in 'train=abc' is not a whole number of seconds; write e.g. train=86400.",
                "nexus-operator: --active-deadline (or NEXUS_ACTIVE_DEADLINE): 'fit' in 'fit=1' is not a step; use one of train, import, embed, upcycle, finetune, extend, remove, evaluate.",
                "nexus-operator: --artifact-root (or NEXUS_ARTIFACT_ROOT): '/tmp/x' is not s3://BUCKET or s3://BUCKET/PREFIX (the pods of different steps share no folder).",
                "nexus-operator: NEXUS_JOB_BACKOFF_LIMIT (or --job-backoff-limit): -1 is negative; use 0 or more.",
                "nexus-operator: --active-deadline (or NEXUS_ACTIVE_DEADLINE): embed=-3 needs a positive number of seconds.",
            ],
            problems);
    }

    [Fact]
    public void BadSettings_DoNotStopTheCrdsCommand()
    {
        var parsed = OperatorCommands.CreateRoot((_, _) => Task.FromResult(0), Environment(("NEXUS_ARTIFACT_ROOT", "/tmp/x")))
            .Parse(["crds", "--out", "crds"]);

        Assert.Empty(parsed.Errors);
    }

    [Fact]
    public void Parse_ThrowsForBadSettings_NamingTheFlag()
    {
        var error = Assert.Throws<FormatException>(() => OperatorCommandLine.Parse(["--job-backoff-limit=-1"], Environment()));

        Assert.StartsWith("--job-backoff-limit (or NEXUS_JOB_BACKOFF_LIMIT): -1 is negative", error.Message, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string[] Problems, bool Ran)> InvokeAsync(string[] args, Func<string, string?> environment)
    {
        var ran = false;
        var error = new StringWriter();
        var exitCode = await OperatorCommands.InvokeAsync(args, (_, _) =>
        {
            ran = true;
            return Task.FromResult(0);
        }, error, environment);
        var lines = error.ToString().Split(System.Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("nexus-operator: see --help for the options.", lines[^1]);
        return (exitCode, lines[..^1], ran);
    }

    private static void AssertEverySettingFromTheExample(OperatorSettings settings)
    {
        Assert.Equal("registry.example/nexus-worker:1.2.3", settings.WorkerImage);
        Assert.Equal("Always", settings.WorkerImagePullPolicy);
        Assert.Equal("s3://ml-artifacts/nexus", settings.ArtifactRoot);
        Assert.Equal("http://minio.nexus:9000", settings.S3Endpoint);
        Assert.Equal("eu-west-3", settings.S3Region);
        Assert.Equal("minio-credentials", settings.S3CredentialsSecretName);
        Assert.Equal("amd.com/gpu", settings.DefaultGpuResourceName);
        Assert.Equal("nexus-runner", settings.WorkerServiceAccountName);
        Assert.Equal(0, settings.JobBackoffLimit);
        Assert.Equal(600, settings.JobTtlSecondsAfterFinished);
        Assert.Equal("20Gi", settings.ScratchSizeLimit);
        Assert.Equal(900, settings.ServingStartupTimeoutSeconds);
        Assert.Equal("registry.example/vllm-openai:v0.10.2", settings.VllmImage);
        Assert.Equal("f16", settings.VllmDtype);
        Assert.Equal(
            new Dictionary<StepKind, long>
            {
                [StepKind.Train] = 3600, [StepKind.Import] = 60, [StepKind.Embed] = 61, [StepKind.Upcycle] = 62,
                [StepKind.Finetune] = 63, [StepKind.Extend] = 64, [StepKind.Remove] = 65, [StepKind.Evaluate] = 66,
            },
            settings.ActiveDeadlineSeconds);
    }
}
