using k8s.Models;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Specs;

public class StepJobTests
{
    private static V1Job TrainingJob(OperatorSettings? settings = null)
    {
        var expert = NewsExpert();
        return StepJob.Build(expert, StepCommands.Train(expert, Paths), expert.Spec.Resources, settings ?? Settings);
    }

    private static V1Job EmbedJob()
    {
        var expert = SpeechesExpert();
        return StepJob.Build(expert, StepCommands.Embed(expert, Paths), expert.Spec.Resources, Settings);
    }

    private static V1Job UpcycleJob()
    {
        var model = DemoModel();
        return StepJob.Build(model, StepCommands.Upcycle(model, DemoBuild(1), DemoExperts(), Paths), model.Spec.Resources, Settings);
    }

    /// <summary>The extend Job of examples/extension/manual-extension.yaml: revision 1 plus 'code', finetuned.</summary>
    private static V1Job ExtensionJob()
    {
        var model = DemoModel();
        var extension = AddCode();
        var plan = StepCommands.Extension(extension, model, 2, Paths.RevisionModel(model, DemoBuild(1)), DemoExperts(), [ReadyExpert("code")], Paths);
        return StepJob.Build(extension, Assert.Single(plan.Surgeries), model.Spec.Resources, Settings);
    }

    private static IEnumerable<V1Job> AllJobs() => [TrainingJob(), EmbedJob(), UpcycleJob(), ExtensionJob()];

    [Fact]
    public void TrainingJob_WithGpusKueueAndTolerations_IsTheExpectedYaml() =>
        ExpectedYaml.Matches("job-train-gpu-kueue.yaml", TrainingJob());

    [Fact]
    public void EmbedJob_WithoutGpus_IsTheExpectedYaml()
    {
        var job = EmbedJob();

        ExpectedYaml.Matches("job-embed-cpu.yaml", job);
        var resources = job.Spec.Template.Spec.Containers[0].Resources;
        Assert.Equal(["cpu", "memory"], resources.Requests.Keys.Order());
        Assert.Equal(["cpu", "memory"], resources.Limits.Keys.Order());
    }

    [Fact]
    public void UpcycleJob_IsTheExpectedYaml() => ExpectedYaml.Matches("job-upcycle.yaml", UpcycleJob());

    [Fact]
    public void ExtensionJob_IsTheExpectedYaml() => ExpectedYaml.Matches("job-extend.yaml", ExtensionJob());

    [Fact]
    public void SameInput_GivesIdenticalYaml()
    {
        foreach (var (first, second) in AllJobs().Zip(AllJobs()))
        {
            Assert.Equal(ExpectedYaml.Serialize(first), ExpectedYaml.Serialize(second));
        }
    }

    [Fact]
    public void TheCredentialsAreFilesFromTheSecret_NeverEnvironmentValues()
    {
        var settings = Settings with { S3CredentialsSecretName = "team-s3" };
        var expert = NewsExpert();
        var job = StepJob.Build(expert, StepCommands.Train(expert, Paths), expert.Spec.Resources, settings);
        var pod = job.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);

        Assert.All(container.Env, variable => Assert.Null(variable.ValueFrom));
        Assert.DoesNotContain(container.Env, variable => variable.Name is "NEXUS_S3_ACCESS_KEY" or "NEXUS_S3_SECRET_KEY"
            || variable.Name.StartsWith("AWS_", StringComparison.Ordinal));
        Assert.Null(container.EnvFrom);
        var env = container.Env.ToDictionary(variable => variable.Name, variable => variable.Value);
        Assert.Equal("/var/run/secrets/nexus.moe/s3/access-key", env["NEXUS_S3_ACCESS_KEY_FILE"]);
        Assert.Equal("/var/run/secrets/nexus.moe/s3/secret-key", env["NEXUS_S3_SECRET_KEY_FILE"]);

        var volume = Assert.Single(pod.Volumes, volume => volume.Secret is not null);
        Assert.Equal("team-s3", volume.Secret.SecretName);
        Assert.Equal(["access-key", "secret-key"], volume.Secret.Items.Select(item => item.Key));
        var mount = Assert.Single(container.VolumeMounts, mount => mount.Name == volume.Name);
        Assert.True(mount.ReadOnlyProperty);
        Assert.Equal("/var/run/secrets/nexus.moe/s3", mount.MountPath);
    }

    [Fact]
    public void NoJobOrServingPod_HasAnEnvironmentValueFromASecret()
    {
        var model = DemoModel();
        var containers = AllJobs().Select(job => job.Spec.Template.Spec.Containers.Single())
            .Append(ServingDeployment.Build(model, 1, Paths.RevisionModel(model, DemoBuild(1)), Settings).Spec.Template.Spec.Containers.Single());

        foreach (var container in containers)
        {
            Assert.Null(container.EnvFrom);
            Assert.All(container.Env, variable =>
            {
                Assert.Null(variable.ValueFrom);
                Assert.True(!variable.Name.Contains("KEY", StringComparison.Ordinal) || variable.Name.EndsWith("_KEY_FILE", StringComparison.Ordinal),
                    $"{variable.Name} looks like a credential given as a value.");
            });
        }
    }

    [Fact]
    public void PodFailurePolicy_FailsTheJobOnBadInput_AndIgnoresDisruptions()
    {
        var spec = TrainingJob().Spec;

        Assert.Equal("Never", spec.Template.Spec.RestartPolicy);
        Assert.Equal(2, spec.PodFailurePolicy.Rules.Count);
        var failJob = spec.PodFailurePolicy.Rules[0];
        Assert.Equal("FailJob", failJob.Action);
        Assert.Equal("nexus", failJob.OnExitCodes.ContainerName);
        Assert.Equal(spec.Template.Spec.Containers[0].Name, failJob.OnExitCodes.ContainerName);
        Assert.Equal("In", failJob.OnExitCodes.OperatorProperty);
        Assert.Equal([2], failJob.OnExitCodes.Values);
        var ignore = spec.PodFailurePolicy.Rules[1];
        Assert.Equal("Ignore", ignore.Action);
        var condition = Assert.Single(ignore.OnPodConditions);
        Assert.Equal(("DisruptionTarget", "True"), (condition.Type, condition.Status));
        Assert.Equal(3, spec.BackoffLimit);
    }

    [Fact]
    public void ANamedQueue_IsTheKueueLabelOnTheJobOnly_AndSuspendIsNeverSet()
    {
        var job = TrainingJob();

        Assert.Equal("gpu-training", job.Metadata.Labels["kueue.x-k8s.io/queue-name"]);
        Assert.False(job.Spec.Template.Metadata.Labels.ContainsKey("kueue.x-k8s.io/queue-name"));
        Assert.Null(job.Spec.Suspend);
        Assert.DoesNotContain("suspend", ExpectedYaml.Serialize(job), StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutAQueue_ThereIsNoKueueLabel_NorSuspend()
    {
        var job = EmbedJob();

        Assert.False(job.Metadata.Labels.ContainsKey("kueue.x-k8s.io/queue-name"));
        Assert.Null(job.Spec.Suspend);
    }

    [Fact]
    public void Gpus_AreRequestedAndLimited_WithTheResourcesName_OrTheSettingsDefault()
    {
        var expert = NewsExpert();
        var step = StepCommands.Train(expert, Paths);
        var settings = Settings with { DefaultGpuResourceName = "amd.com/gpu" };

        expert.Spec.Resources.Gpu = new GpuResources { Count = 1, ResourceName = "nvidia.com/gpu" };
        var named = StepJob.Build(expert, step, expert.Spec.Resources, settings).Spec.Template.Spec.Containers[0].Resources;
        Assert.Equal("1", named.Requests["nvidia.com/gpu"].ToString());
        Assert.Equal("1", named.Limits["nvidia.com/gpu"].ToString());

        expert.Spec.Resources.Gpu = new GpuResources { Count = 2 };
        var defaulted = StepJob.Build(expert, step, expert.Spec.Resources, settings).Spec.Template.Spec.Containers[0].Resources;
        Assert.Equal("2", defaulted.Requests["amd.com/gpu"].ToString());
        Assert.Equal("2", defaulted.Limits["amd.com/gpu"].ToString());
        Assert.False(defaulted.Requests.ContainsKey("nvidia.com/gpu"));

        expert.Spec.Resources.Gpu = new GpuResources { Count = 0 };
        var none = StepJob.Build(expert, step, expert.Spec.Resources, settings).Spec.Template.Spec.Containers[0].Resources;
        Assert.DoesNotContain(none.Requests.Keys, key => key.Contains("gpu", StringComparison.Ordinal));
        Assert.DoesNotContain(none.Limits.Keys, key => key.Contains("gpu", StringComparison.Ordinal));
    }

    [Fact]
    public void TheJob_IsControlledByItsOwner_AndLabelledForIt()
    {
        var job = ExtensionJob();

        var owner = Assert.Single(job.Metadata.OwnerReferences);
        Assert.Equal(("nexus.moe/v1alpha1", "Extension", "demo-add-code", "16fd2706-8baf-433b-82eb-8c7fada847da"),
            (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
        Assert.True(owner.Controller);
        Assert.True(owner.BlockOwnerDeletion);
        Assert.Equal("ml", job.Metadata.NamespaceProperty);
        Assert.Equal("nexus", job.Metadata.Labels["app.kubernetes.io/name"]);
        Assert.Equal("extend", job.Metadata.Labels["app.kubernetes.io/component"]);
        Assert.Equal("nexus-operator", job.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal("demo-add-code", job.Metadata.Labels["nexus.moe/extension"]);
        Assert.Equal("demo", job.Metadata.Labels["nexus.moe/nexusmodel"]);
        Assert.Equal("demo-add-code", job.Spec.Template.Metadata.Labels["nexus.moe/extension"]);
    }

    [Fact]
    public void TheOutputAnnotation_IsTheStepsResultLocation()
    {
        var expert = NewsExpert();

        Assert.Equal("s3://nexus-artifacts/ml/experts/news/0f8fad5b-g3/run", TrainingJob().Metadata.Annotations["nexus.moe/output"]);
        Assert.Equal(Paths.ExpertEmbedding(SpeechesExpert()), EmbedJob().Metadata.Annotations["nexus.moe/output"]);
        Assert.Equal(Paths.Upcycled(DemoModel(), DemoBuild(1)), UpcycleJob().Metadata.Annotations["nexus.moe/output"]);
        Assert.Equal(Paths.ExtensionFinetuneRun(AddCode(), DemoModel(), 2), ExtensionJob().Metadata.Annotations["nexus.moe/output"]);
        Assert.Equal(Paths.ExpertCheckpoint(expert), ArtifactPaths.RunModel(TrainingJob().Metadata.Annotations["nexus.moe/output"]));
    }

    [Fact]
    public void ActiveDeadline_DependsOnTheStep_TrainingLongerThanEmbedding()
    {
        var train = TrainingJob().Spec.ActiveDeadlineSeconds;
        var embed = EmbedJob().Spec.ActiveDeadlineSeconds;

        Assert.Equal(Settings.ActiveDeadlineSeconds[StepKind.Train], train);
        Assert.Equal(Settings.ActiveDeadlineSeconds[StepKind.Embed], embed);
        Assert.True(train > embed);
        Assert.Equal(86_400, TrainingJob().Spec.TtlSecondsAfterFinished);
        Assert.Equal((1, 1), (TrainingJob().Spec.Completions, TrainingJob().Spec.Parallelism));
    }

    [Fact]
    public void EveryPod_RunsRestricted_WithAWritableScratchOnly()
    {
        foreach (var job in AllJobs())
        {
            var pod = job.Spec.Template.Spec;
            var container = pod.Containers.Single();
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.Equal(65532, pod.SecurityContext.RunAsUser);
            Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
            Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
            Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
            Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
            Assert.False(pod.AutomountServiceAccountToken);

            var scratch = Assert.Single(pod.Volumes, volume => volume.EmptyDir is not null);
            Assert.Equal("100Gi", scratch.EmptyDir.SizeLimit.ToString());
            var env = container.Env.ToDictionary(variable => variable.Name, variable => variable.Value);
            Assert.Equal("/scratch", env["HOME"]);
            Assert.Equal("/scratch/artifacts", env["NEXUS_ARTIFACT_CACHE"]);
            Assert.Equal("/scratch", Assert.Single(container.VolumeMounts, mount => mount.Name == scratch.Name).MountPath);
        }
    }
}
