using System.Net;
using k8s;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Controllers;

public sealed class JobSimulatorTests : ServerTest
{
    private async Task<V1Job> CreateJobAsync(string name = "train") => await Client.BatchV1.CreateNamespacedJobAsync(Workloads.Job(name), Ns);

    [Fact]
    public async Task A_created_job_gets_the_selector_labels_and_defaults_of_the_real_API_server()
    {
        var job = await CreateJobAsync();

        Assert.Equal(job.Metadata.Uid, job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"]);
        Assert.Equal("train", job.Spec.Template.Metadata.Labels["batch.kubernetes.io/job-name"]);
        Assert.Equal("train", job.Spec.Template.Metadata.Labels["job-name"]);
        Assert.Equal(6, job.Spec.BackoffLimit);
        Assert.Equal(1, job.Spec.Completions);
        Assert.Equal(1, job.Spec.Parallelism);
        Assert.Equal("NonIndexed", job.Spec.CompletionMode);
        Assert.False(job.Spec.Suspend);
        Assert.Equal(1, job.Metadata.Generation);
    }

    [Fact]
    public async Task A_job_needs_restartPolicy_Never_or_OnFailure()
    {
        var job = Workloads.Job("bad");
        job.Spec.Template.Spec.RestartPolicy = "Always";

        var (code, status) = await RefusedAsync(() => Client.BatchV1.CreateNamespacedJobAsync(job, Ns));

        Assert.Equal((HttpStatusCode)422, code);
        Assert.Equal("spec.template.spec.restartPolicy", Assert.Single(status.Details.Causes).Field);
    }

    [Fact]
    public async Task MarkRunning_creates_an_owned_pod_and_counts_it_active()
    {
        var job = await CreateJobAsync();

        Server.Jobs.MarkRunning(Ns, "train");

        var pods = await Client.CoreV1.ListNamespacedPodAsync(Ns, labelSelector: "batch.kubernetes.io/job-name=train");
        var pod = Assert.Single(pods.Items);
        Assert.StartsWith("train-", pod.Metadata.Name);
        Assert.Equal("train", pod.Metadata.Labels["job-name"]);
        var owner = Assert.Single(pod.Metadata.OwnerReferences);
        Assert.Equal((job.Metadata.Uid, "Job", true, true), (owner.Uid, owner.Kind, owner.Controller, owner.BlockOwnerDeletion));
        Assert.Equal("Running", pod.Status.Phase);
        var running = await Client.BatchV1.ReadNamespacedJobAsync("train", Ns);
        Assert.Equal(1, running.Status.Active);
        Assert.NotNull(running.Status.StartTime);
        Assert.Equal(job.Metadata.Generation, running.Metadata.Generation);
    }

    [Fact]
    public async Task MarkSucceeded_completes_the_job_like_the_controller()
    {
        await CreateJobAsync();
        Server.Jobs.MarkRunning(Ns, "train");

        Server.Jobs.MarkSucceeded(Ns, "train");

        var job = await Client.BatchV1.ReadNamespacedJobAsync("train", Ns);
        Assert.Equal(1, job.Status.Succeeded);
        Assert.Equal(0, job.Status.Active);
        Assert.NotNull(job.Status.CompletionTime);
        Assert.Equal(["SuccessCriteriaMet", "Complete"], job.Status.Conditions.Select(c => c.Type));
        Assert.All(job.Status.Conditions, c => Assert.Equal("True", c.Status));
        var pod = Assert.Single((await Client.CoreV1.ListNamespacedPodAsync(Ns)).Items);
        Assert.Equal("Succeeded", pod.Status.Phase);
        Assert.Equal(0, pod.Status.ContainerStatuses[0].State.Terminated.ExitCode);
    }

    [Fact]
    public async Task MarkFailed_reports_the_reason_and_the_container_exit()
    {
        await CreateJobAsync();

        Server.Jobs.MarkFailed(Ns, "train", exitCode: 137, podReason: "OOMKilled");

        var job = await Client.BatchV1.ReadNamespacedJobAsync("train", Ns);
        Assert.Equal(1, job.Status.Failed);
        Assert.Equal(["FailureTarget", "Failed"], job.Status.Conditions.Select(c => c.Type));
        Assert.All(job.Status.Conditions, c => Assert.Equal("BackoffLimitExceeded", c.Reason));
        var terminated = Assert.Single((await Client.CoreV1.ListNamespacedPodAsync(Ns)).Items).Status.ContainerStatuses[0].State.Terminated;
        Assert.Equal((137, "OOMKilled"), (terminated.ExitCode, terminated.Reason));
    }

    [Fact]
    public async Task MarkPodWaiting_shows_an_image_pull_problem_on_the_pod()
    {
        await CreateJobAsync();

        Server.Jobs.MarkPodWaiting(Ns, "train", "ErrImagePull", "pull access denied");

        var pod = Assert.Single((await Client.CoreV1.ListNamespacedPodAsync(Ns)).Items);
        Assert.Equal("Pending", pod.Status.Phase);
        Assert.Equal(("ErrImagePull", "pull access denied"), (pod.Status.ContainerStatuses[0].State.Waiting.Reason, pod.Status.ContainerStatuses[0].State.Waiting.Message));
        Assert.Equal(1, (await Client.BatchV1.ReadNamespacedJobAsync("train", Ns)).Status.Active);
    }

    [Fact]
    public async Task Simulated_progress_reaches_watchers_as_status_updates()
    {
        await CreateJobAsync();
        using var watch = new WatchRecorder<V1Job>();
        watch.Watcher = Client.BatchV1.WatchListNamespacedJob(
            Ns, resourceVersion: Server.ResourceVersion.ToString(), onEvent: watch.OnEvent, onError: watch.OnError, onClosed: watch.OnClosed);

        Server.Jobs.MarkRunning(Ns, "train");
        Server.Jobs.MarkSucceeded(Ns, "train");
        var events = await watch.NextAsync(2);

        Assert.All(events, e => Assert.Equal(WatchEventType.Modified, e.Type));
        Assert.Equal(1, events[0].Object.Status.Active);
        Assert.Equal(1, events[1].Object.Status.Succeeded);
    }

    [Fact]
    public void Simulating_a_missing_job_fails_loudly()
    {
        Assert.Throws<InvalidOperationException>(() => Server.Jobs.MarkRunning(Ns, "ghost"));
    }
}
