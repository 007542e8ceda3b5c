using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Specs;

public class OperatorSettingsTests
{
    [Fact]
    public void TheDefaults_AreValid()
    {
        var settings = new OperatorSettings();

        Assert.Empty(settings.Problems());
        Assert.Same(settings, settings.Validate());
        Assert.Equal("s3://nexus-artifacts", settings.ArtifactRoot);
        Assert.Equal("nvidia.com/gpu", settings.DefaultGpuResourceName);
        Assert.Equal(3, settings.JobBackoffLimit);
        Assert.Equal(86_400, settings.JobTtlSecondsAfterFinished);
        Assert.True(settings.ActiveDeadlineSecondsOf(StepKind.Train) > settings.ActiveDeadlineSecondsOf(StepKind.Embed));
        Assert.True(settings.ActiveDeadlineSecondsOf(StepKind.Finetune) > settings.ActiveDeadlineSecondsOf(StepKind.Evaluate));
        Assert.Matches(@"^vllm/vllm-openai:v\d+\.\d+\.\d+$", settings.VllmImage); // a pinned release, never latest
        Assert.Equal("bf16", settings.VllmDtype);
    }

    [Theory]
    [InlineData("bf16", "bfloat16")]
    [InlineData("f16", "float16")]
    [InlineData("f32", "float32")]
    public void TheVllmDtype_IsNexusExportsName_AndMapsToVllms(string dtype, string vllm)
    {
        Assert.Empty(new OperatorSettings { VllmDtype = dtype }.Problems());
        Assert.Equal(vllm, OperatorSettings.VllmDtypeName(dtype));
    }

    public static TheoryData<OperatorSettings, string> BadSettings() => new()
    {
        { new OperatorSettings { WorkerImage = "" }, "WorkerImage" },
        { new OperatorSettings { WorkerImage = "nexus worker" }, "WorkerImage" },
        { new OperatorSettings { WorkerImagePullPolicy = "Sometimes" }, "WorkerImagePullPolicy" },
        { new OperatorSettings { ArtifactRoot = "file:///srv/artifacts" }, "ArtifactRoot" },
        { new OperatorSettings { ArtifactRoot = "s3://" }, "ArtifactRoot" },
        { new OperatorSettings { S3Endpoint = "minio:9000" }, "S3Endpoint" },
        { new OperatorSettings { S3Region = " " }, "S3Region" },
        { new OperatorSettings { S3CredentialsSecretName = "S3_Credentials" }, "S3CredentialsSecretName" },
        { new OperatorSettings { DefaultGpuResourceName = "gpu/" }, "DefaultGpuResourceName" },
        { new OperatorSettings { JobBackoffLimit = -1 }, "JobBackoffLimit" },
        { new OperatorSettings { JobTtlSecondsAfterFinished = -5 }, "JobTtlSecondsAfterFinished" },
        { new OperatorSettings { ActiveDeadlineSeconds = new Dictionary<StepKind, long> { [StepKind.Train] = 60 } }, "ActiveDeadlineSeconds[Embed]" },
        { new OperatorSettings { WorkerServiceAccountName = "" }, "WorkerServiceAccountName" },
        { new OperatorSettings { ScratchSizeLimit = "lots" }, "ScratchSizeLimit" },
        { new OperatorSettings { ScratchSizeLimit = "0" }, "ScratchSizeLimit" },
        { new OperatorSettings { ServingStartupTimeoutSeconds = 0 }, "ServingStartupTimeoutSeconds" },
        { new OperatorSettings { VllmImage = "" }, "VllmImage" },
        { new OperatorSettings { VllmImage = "vllm/vllm-openai latest" }, "VllmImage" },
        { new OperatorSettings { VllmDtype = "int8" }, "VllmDtype" },
        { new OperatorSettings { VllmDtype = "bfloat16" }, "VllmDtype" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void ABadSetting_IsNamed(OperatorSettings settings, string setting)
    {
        var problem = Assert.Single(settings.Problems(), problem => problem.Contains(setting, StringComparison.Ordinal));
        Assert.StartsWith($"OperatorSettings.{setting}:", problem, StringComparison.Ordinal);
        var error = Assert.Throws<ArgumentException>(() => settings.Validate());
        Assert.Contains($"OperatorSettings.{setting}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProblem_IsReported_NotJustTheFirst()
    {
        var settings = new OperatorSettings { WorkerImage = "", JobBackoffLimit = -1, ArtifactRoot = "http://bucket" };

        Assert.Equal(3, settings.Problems().Count);
    }
}
