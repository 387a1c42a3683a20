// LIME for images: superpixels, perturbations, batched scoring, weighted ridge (see lime.h).
#include "irbis/lime.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include <opencv2/imgcodecs.hpp>  // the IMREAD_ / IMWRITE_ constants
#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/slic.hpp>

#include "io/opencv_codecs.h"
#include "io/parallel_indices.h"
#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {
namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
constexpr int kMinRegion = 8;
}  // namespace

LimeFill parse_lime_fill(const std::string& s) {
  if (s == "mean") return LimeFill::mean;
  if (s == "blur") return LimeFill::blur;
  throw UsageError("unknown fill '" + s + "' (expected mean or blur)");
}

cv::Mat slic_superpixels(const cv::Mat& rgb, int superpixels, double ruler, int* count) {
  IRBIS_THROW_IF_NOT(superpixels >= 2, UsageError, "ask for at least 2 superpixels");
  const double area = double(rgb.cols) * rgb.rows;
  const int region = int(std::lround(std::sqrt(area / superpixels)));
  if (region < kMinRegion || rgb.cols < 2 * kMinRegion || rgb.rows < 2 * kMinRegion) {
    const int most = int(area / (kMinRegion * kMinRegion));
    throw UsageError("image of " + std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows) + " pixels is too small for " +
                     std::to_string(superpixels) + " superpixels (each needs at least " + std::to_string(kMinRegion) +
                     "x" + std::to_string(kMinRegion) + "); ask for at most " + std::to_string(std::max(0, most)) +
                     " with --superpixels");
  }
  cv::Mat lab;
  cv::cvtColor(rgb, lab, cv::COLOR_RGB2Lab);
  auto slic = opencv_codecs::create_superpixel_slic(lab, cv::ximgproc::SLIC, region, float(ruler));
  slic->iterate(10);
  slic->enforceLabelConnectivity(25);
  cv::Mat raw;
  slic->getLabels(raw);
  // Compact ids in raster order of first appearance.
  double mx = 0;
  cv::minMaxLoc(raw, nullptr, &mx);
  std::vector<int> remap(static_cast<size_t>(mx) + 1, -1);
  int n = 0;
  cv::Mat out(raw.size(), CV_32S);
  for (int y = 0; y < raw.rows; ++y) {
    const int* s = raw.ptr<int>(y);
    int* d = out.ptr<int>(y);
    for (int x = 0; x < raw.cols; ++x) {
      int& m = remap[size_t(s[x])];
      if (m < 0) m = n++;
      d[x] = m;
    }
  }
  if (count) *count = n;
  return out;
}

std::vector<double> weighted_ridge(const cv::Mat& Z, const std::vector<double>& y, const std::vector<double>& w,
                                   double ridge, double* intercept, double* r2) {
  const int n = Z.rows, S = Z.cols;
  IRBIS_THROW_IF_NOT(n == int(y.size()) && n == int(w.size()) && n > 0, UsageError, "weighted_ridge: sizes");
  double sw = 0, ym = 0;
  std::vector<double> zm(static_cast<size_t>(S), 0.0);
  for (int i = 0; i < n; ++i) {
    sw += w[size_t(i)];
    ym += w[size_t(i)] * y[size_t(i)];
    const float* z = Z.ptr<float>(i);
    for (int j = 0; j < S; ++j) zm[size_t(j)] += w[size_t(i)] * z[j];
  }
  IRBIS_THROW_IF_NOT(sw > 0, UsageError, "weighted_ridge: all weights are zero");
  ym /= sw;
  for (auto& v : zm) v /= sw;
  cv::Mat A = cv::Mat::zeros(S, S, CV_64F), bvec = cv::Mat::zeros(S, 1, CV_64F);
  std::vector<double> zc(static_cast<size_t>(S));
  for (int i = 0; i < n; ++i) {
    const float* z = Z.ptr<float>(i);
    for (int j = 0; j < S; ++j) zc[size_t(j)] = z[j] - zm[size_t(j)];
    const double wi = w[size_t(i)], yc = y[size_t(i)] - ym;
    for (int a = 0; a < S; ++a) {
      const double wa = wi * zc[size_t(a)];
      if (wa == 0) continue;
      double* Ar = A.ptr<double>(a);
      for (int b = a; b < S; ++b) Ar[b] += wa * zc[size_t(b)];
      bvec.at<double>(a) += wa * yc;
    }
  }
  for (int a = 0; a < S; ++a) {
    for (int b = 0; b < a; ++b) A.at<double>(a, b) = A.at<double>(b, a);
    A.at<double>(a, a) += ridge;
  }
  cv::Mat beta;
  cv::solve(A, bvec, beta, cv::DECOMP_CHOLESKY);
  std::vector<double> out(static_cast<size_t>(S));
  double b0 = ym;
  for (int j = 0; j < S; ++j) {
    out[size_t(j)] = beta.at<double>(j);
    b0 -= out[size_t(j)] * zm[size_t(j)];
  }
  if (intercept) *intercept = b0;
  if (r2) {
    double ss_res = 0, ss_tot = 0;
    for (int i = 0; i < n; ++i) {
      const float* z = Z.ptr<float>(i);
      double f = b0;
      for (int j = 0; j < S; ++j) f += out[size_t(j)] * z[j];
      ss_res += w[size_t(i)] * (y[size_t(i)] - f) * (y[size_t(i)] - f);
      ss_tot += w[size_t(i)] * (y[size_t(i)] - ym) * (y[size_t(i)] - ym);
    }
    *r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 0;
  }
  return out;
}

cv::Mat lime_masks(int samples, int superpixels, uint64_t seed) {
  cv::Mat Z(samples, superpixels, CV_32F);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < samples; ++i) {
    float* z = Z.ptr<float>(i);
    for (int s = 0; s < superpixels; ++s) z[s] = i == 0 ? 1.f : float((rng() >> 63) & 1u);
  }
  return Z;
}

std::vector<double> lime_sample_weights(const cv::Mat& masks, double kernel_width) {
  const int S = masks.cols;
  std::vector<double> w(static_cast<size_t>(masks.rows));
  for (int i = 0; i < masks.rows; ++i) {
    double on = 0;
    const float* z = masks.ptr<float>(i);
    for (int s = 0; s < S; ++s) on += z[s];
    // Cosine distance between the mask and the all-ones mask.
    const double cosv = on > 0 ? on / (std::sqrt(on) * std::sqrt(double(S))) : 0;
    const double d = 1 - cosv;
    w[size_t(i)] = std::sqrt(std::exp(-(d * d) / (kernel_width * kernel_width)));
  }
  return w;
}

std::vector<double> fit_lime(const cv::Mat& masks, const std::vector<double>& scores, const LimeOptions& opts,
                             double* intercept, double* r2) {
  return weighted_ridge(masks, scores, lime_sample_weights(masks, opts.kernel_width), opts.ridge, intercept, r2);
}

LimeResult explain_image(const cv::Mat& rgb_in, ClassifierNetworks& nets, const Classifier& clf, const LimeOptions& opts) {
  IRBIS_THROW_IF_NOT(rgb_in.type() == CV_8UC3 && !rgb_in.empty(), UsageError, "explain: expected an 8-bit RGB image");
  IRBIS_THROW_IF_NOT(opts.samples >= 10, UsageError, "explain: use at least 10 samples");
  IRBIS_THROW_IF_NOT(opts.batch >= 1, UsageError, "explain: batch must be at least 1");
  IRBIS_THROW_IF_NOT(nets.size() == clf.heads.size(), UsageError, "explain: one network per classifier head");
  const auto t_all = Clock::now();
  LimeResult r;
  // Working image.
  auto t = Clock::now();
  const int longest = std::max(rgb_in.cols, rgb_in.rows);
  if (longest > opts.max_side) {
    const double f = double(opts.max_side) / longest;
    cv::resize(rgb_in, r.image, cv::Size(std::max(1, int(std::lround(rgb_in.cols * f))),
                                         std::max(1, int(std::lround(rgb_in.rows * f)))),
               0, 0, cv::INTER_AREA);
  } else {
    r.image = rgb_in.clone();
  }
  int S = 0;
  r.labels = slic_superpixels(r.image, opts.superpixels, opts.ruler, &S);
  r.superpixels.resize(size_t(S));
  std::vector<cv::Vec3d> sum(static_cast<size_t>(S), cv::Vec3d(0, 0, 0));
  std::vector<int> x0(static_cast<size_t>(S), INT32_MAX), y0(static_cast<size_t>(S), INT32_MAX), x1(static_cast<size_t>(S), -1), y1(static_cast<size_t>(S), -1);
  for (int y = 0; y < r.labels.rows; ++y) {
    const int* l = r.labels.ptr<int>(y);
    const cv::Vec3b* p = r.image.ptr<cv::Vec3b>(y);
    for (int x = 0; x < r.labels.cols; ++x) {
      const size_t s = size_t(l[x]);
      r.superpixels[s].pixels++;
      sum[s] += cv::Vec3d(p[x][0], p[x][1], p[x][2]);
      x0[s] = std::min(x0[s], x);
      x1[s] = std::max(x1[s], x);
      y0[s] = std::min(y0[s], y);
      y1[s] = std::max(y1[s], y);
    }
  }
  for (int s = 0; s < S; ++s) {
    auto& sp = r.superpixels[size_t(s)];
    sp.id = s;
    sp.box = cv::Rect(x0[size_t(s)], y0[size_t(s)], x1[size_t(s)] - x0[size_t(s)] + 1, y1[size_t(s)] - y0[size_t(s)] + 1);
  }
  r.seconds_segment = since(t);

  // The image a hidden superpixel shows instead.
  t = Clock::now();
  cv::Mat fill;
  if (opts.fill == LimeFill::mean) {
    std::vector<cv::Vec3b> mean(static_cast<size_t>(S));
    for (int s = 0; s < S; ++s) {
      const double n = std::max(1, r.superpixels[size_t(s)].pixels);
      for (int c = 0; c < 3; ++c) mean[size_t(s)][c] = cv::saturate_cast<uchar>(sum[size_t(s)][c] / n);
    }
    fill.create(r.image.size(), CV_8UC3);
    for (int y = 0; y < fill.rows; ++y) {
      const int* l = r.labels.ptr<int>(y);
      cv::Vec3b* d = fill.ptr<cv::Vec3b>(y);
      for (int x = 0; x < fill.cols; ++x) d[x] = mean[size_t(l[x])];
    }
  } else {
    const double sigma = std::sqrt(double(r.image.total()) / S) / 2;
    cv::GaussianBlur(r.image, fill, cv::Size(0, 0), sigma);
  }
  const int N = opts.samples;
  const cv::Mat Z = lime_masks(N, S, opts.seed);
  r.seconds_perturb += since(t);

  // Score every sample: batches are shared out between one single-threaded set of networks per core
  // (the one given and copies of it, each head's with its engine and precision; docs/models.md,
  // "Threads"); every head scores every sample and their probabilities are averaged. A
  // sample's score depends only on its mask, so the result is the same for any number of workers.
  // A copy costs about as much as 15 int8 forward passes to build, so short runs keep one.
  cv::Mat proba(N, int(clf.classes.size()), CV_32F);
  const int batches = (N + opts.batch - 1) / opts.batch;
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  const bool copies = nets.single_threaded_onednn() && N >= 64;
  const int workers = copies ? std::min(cores, batches) : 1;
  std::vector<std::unique_ptr<ClassifierNetworks>> extra;
  for (int w = 1; w < workers; ++w) extra.push_back(nets.single_threaded_copy());
  std::vector<ClassifierNetworks*> worker_nets{&nets};
  for (auto& e : extra) worker_nets.push_back(e.get());
  struct WorkerBuffers {
    // Per head: the perturbed images preprocessed for its network (each model has its own input size).
    std::vector<std::vector<cv::Mat>> batch;
    cv::Mat img;
  };
  std::vector<WorkerBuffers> buffers(worker_nets.size());
  std::mutex mu;  // done, the progress callback and the timers (busy seconds summed over the workers)
  int done = 0;
  parallel_indices(size_t(batches), workers, [&](int w, size_t b) {
    ClassifierNetworks& net = *worker_nets[size_t(w)];
    auto& [batch, img] = buffers[size_t(w)];
    img.create(r.image.size(), CV_8UC3);
    batch.resize(net.size());
    const int start = int(b) * opts.batch, end = std::min(N, start + opts.batch);
    auto tb = Clock::now();
    for (auto& head_batch : batch) head_batch.clear();
    for (int i = start; i < end; ++i) {
      const float* z = Z.ptr<float>(i);
      for (int y = 0; y < img.rows; ++y) {
        const int* l = r.labels.ptr<int>(y);
        const cv::Vec3b* a = r.image.ptr<cv::Vec3b>(y);
        const cv::Vec3b* f = fill.ptr<cv::Vec3b>(y);
        cv::Vec3b* d = img.ptr<cv::Vec3b>(y);
        for (int x = 0; x < img.cols; ++x) d[x] = z[l[x]] != 0.f ? a[x] : f[x];
      }
      for (size_t h = 0; h < net.size(); ++h) batch[h].push_back(net[h].preprocess(img));
    }
    const double perturb = since(tb);
    tb = Clock::now();
    std::vector<cv::Mat> features;
    for (size_t h = 0; h < net.size(); ++h)
      features.push_back(clf.heads[h].features_from_blocks(net[h], net[h].forward_blocks(batch[h])));
    const cv::Mat P = clf.predict_proba(features);
    P.copyTo(proba.rowRange(start, end));
    const double infer = since(tb);
    std::lock_guard lk(mu);
    r.seconds_perturb += perturb;
    r.seconds_infer += infer;
    done += end - start;
    if (opts.progress) opts.progress(done, N);
  });

  t = Clock::now();
  r.proba.assign(proba.ptr<float>(0), proba.ptr<float>(0) + proba.cols);
  r.target = opts.target >= 0 ? opts.target
                              : int(std::max_element(r.proba.begin(), r.proba.end()) - r.proba.begin());
  IRBIS_THROW_IF_NOT(r.target < proba.cols, UsageError, "explain: class index out of range");
  std::vector<double> y(static_cast<size_t>(N));
  for (int i = 0; i < N; ++i) y[size_t(i)] = proba.at<float>(i, r.target);
  const auto beta = fit_lime(Z, y, opts, &r.intercept, &r.r2);
  for (int s = 0; s < S; ++s) r.superpixels[size_t(s)].weight = beta[size_t(s)];
  r.seconds_fit = since(t);
  r.samples = N;
  r.seconds_total = since(t_all);
  return r;
}

cv::Mat draw_lime(const LimeResult& r, double percentile) {
  std::vector<double> w;
  for (const auto& s : r.superpixels) w.push_back(s.weight);
  std::vector<double> sorted = w;
  std::sort(sorted.begin(), sorted.end());
  const double pos = std::clamp(percentile / 100.0, 0.0, 1.0) * double(sorted.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = size_t(std::ceil(pos));
  const double thr = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
  std::vector<uint8_t> keep(w.size());
  for (size_t i = 0; i < w.size(); ++i) keep[i] = w[i] >= thr && w[i] > 0;
  cv::Mat out = r.image.clone();
  for (int y = 0; y < out.rows; ++y) {
    const int* l = r.labels.ptr<int>(y);
    cv::Vec3b* p = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < out.cols; ++x) {
      const int s = l[x];
      if (!keep[size_t(s)]) {
        p[x] = cv::Vec3b(uchar(p[x][0] * 0.3), uchar(p[x][1] * 0.3), uchar(p[x][2] * 0.3));
        continue;
      }
      // Outline: a kept superpixel's pixel next to another superpixel.
      const bool edge = (x > 0 && l[x - 1] != s) || (x + 1 < out.cols && l[x + 1] != s) ||
                        (y > 0 && r.labels.at<int>(y - 1, x) != s) || (y + 1 < out.rows && r.labels.at<int>(y + 1, x) != s);
      if (edge) p[x] = cv::Vec3b(255, 230, 0);
    }
  }
  return out;
}

nlohmann::json lime_json(const LimeResult& r, const Classifier& clf) {
  nlohmann::json j;
  j["class"] = clf.classes[size_t(r.target)];
  j["probability"] = r.proba[size_t(r.target)];
  nlohmann::json p = nlohmann::json::object();
  for (size_t c = 0; c < clf.classes.size(); ++c) p[clf.classes[c]] = r.proba[c];
  j["probabilities"] = p;
  j["samples"] = r.samples;
  j["width"] = r.image.cols;
  j["height"] = r.image.rows;
  j["intercept"] = r.intercept;
  j["r2"] = r.r2;
  j["seconds"] = {{"segment", r.seconds_segment}, {"perturb", r.seconds_perturb}, {"infer", r.seconds_infer},
                  {"fit", r.seconds_fit}, {"total", r.seconds_total}};
  j["superpixels"] = nlohmann::json::array();
  for (const auto& s : r.superpixels)
    j["superpixels"].push_back({{"id", s.id}, {"weight", s.weight}, {"pixels", s.pixels},
                                {"bbox", {s.box.x, s.box.y, s.box.width, s.box.height}}});
  return j;
}

LimeResult explain_file(const std::string& path, ClassifierNetworks& nets, const Classifier& clf, const LimeOptions& opts) {
  // The probabilities shown are predict_file's: the decode and embedding of index, predict and
  // search (decoded for the model's input size). The working image LIME perturbs is decoded
  // larger and area-downscaled, so its own unmasked score can differ slightly; it only feeds the fit.
  const cv::Mat p = predict_file(clf, nets, path);
  LimeOptions o = opts;
  if (o.target < 0) o.target = int(std::max_element(p.ptr<float>(0), p.ptr<float>(0) + p.cols) - p.ptr<float>(0));
  const cv::Mat rgb = read_rgb(path, std::min(opts.max_side, 4096));
  LimeResult r = explain_image(rgb, nets, clf, o);
  r.proba.assign(p.ptr<float>(0), p.ptr<float>(0) + p.cols);
  return r;
}

void check_lime_picture_path(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg")
    throw UsageError(display_path(file.string()) + ": the explanation picture must be .png or .jpg");
}

void write_lime_picture(const std::filesystem::path& file, const LimeResult& r, double percentile) {
  check_lime_picture_path(file);
  cv::Mat bgr;
  cv::cvtColor(draw_lime(r, percentile), bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = opencv_codecs::imwrite(file.string(), bgr);
  } catch (const cv::Exception&) {
  }
  if (!ok) throw IoError(display_path(file.string()) + ": cannot write the picture");
}

}  // namespace irbis
