// LIME for images (Ribeiro et al. 2016) on an irbis classifier: SLIC superpixels (OpenCV contrib
// ximgproc), random on/off masks that hide superpixels (filled with their mean colour or a blurred
// copy), every perturbed image scored through embedding + classifier in batches, and a
// kernel-weighted ridge regression of the class probability on the masks. The weight of a
// superpixel is how much showing it raises the probability of the explained class.
// Deterministic for a given seed. See docs/classify.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/classifier.h"
#include "irbis/model.h"

namespace irbis {

enum class LimeFill { mean, blur };
LimeFill parse_lime_fill(const std::string& s);  // "mean" | "blur"

struct LimeOptions {
  int superpixels = 50;       // requested number (SLIC region size = sqrt(area / superpixels))
  int samples = 1000;         // perturbed images, the first is the unperturbed one
  uint64_t seed = 1;
  int batch = 8;              // images per forward pass
  LimeFill fill = LimeFill::mean;
  double kernel_width = 0.25; // exp(-d^2 / width^2) on the cosine distance to the full image
  double ridge = 1.0;         // ridge penalty of the local linear model
  int target = -1;            // class to explain; -1 = the predicted class
  int max_side = 512;         // the image is area-downscaled to at most this long side first
  double ruler = 10.0;        // SLIC compactness
  // Called after each scored batch (samples scored so far, of all): the scoring is most of the time.
  // Batches are scored on one network per core (oneDNN), so this comes from those threads, one call at a time.
  std::function<void(int done, int total)> progress;
};

struct SuperpixelWeight {
  int id = 0;
  double weight = 0;
  int pixels = 0;
  cv::Rect box;  // in the working image's pixels
};

struct LimeResult {
  cv::Mat image;    // the working image (8-bit RGB) the explanation refers to
  cv::Mat labels;   // CV_32S superpixel id per pixel of image
  std::vector<SuperpixelWeight> superpixels;  // by id
  int target = 0;                   // explained class
  std::vector<float> proba;         // classifier probabilities of the unperturbed image
  double intercept = 0, r2 = 0;     // local model
  // perturb and infer: busy seconds summed over the scoring workers (one network per core).
  double seconds_segment = 0, seconds_perturb = 0, seconds_infer = 0, seconds_fit = 0, seconds_total = 0;
  int samples = 0;
};

// Every perturbed image is scored by every head of the classifier (nets: one network per head, in
// head order) and the heads' probabilities averaged, as predict_file does. Throws UsageError when the
// image is too small for the requested number of superpixels.
LimeResult explain_image(const cv::Mat& rgb, ClassifierNetworks& nets, const Classifier& clf, const LimeOptions& opts);

// explain_image on a file (`irbis explain`): read and decoded at a size that still has
// opts.max_side pixels on the shorter side when the file does (capped at 4096), then explained.
// Throws IoError/DecodeError naming the file.
LimeResult explain_file(const std::string& path, ClassifierNetworks& nets, const Classifier& clf, const LimeOptions& opts);

// Kernel-weighted ridge regression with an unpenalised intercept: minimises
// sum_i w_i (y_i - b - z_i.beta)^2 + ridge |beta|^2. Z is n x S (CV_32F), y and w have n entries.
// Returns beta (S entries); intercept and weighted R^2 through the pointers.
std::vector<double> weighted_ridge(const cv::Mat& Z, const std::vector<double>& y, const std::vector<double>& w,
                                   double ridge, double* intercept, double* r2);

// The steps of explain_image after scoring, public so tests can hold them against an independent
// reference (tests/analysis/lime_reference_test.cpp, the `lime` package's definitions):
// the masks, samples x superpixels (CV_32F, 1 = shown): row 0 shows everything, every other entry
// is a fair coin from std::mt19937_64(seed);
cv::Mat lime_masks(int samples, int superpixels, uint64_t seed);
// each sample's weight: sqrt(exp(-d^2 / width^2)), d = cosine distance between its mask and row 0;
std::vector<double> lime_sample_weights(const cv::Mat& masks, double kernel_width);
// the local model: weighted_ridge of the explained class's scores on the masks with those weights
// (opts.kernel_width, opts.ridge); returns one weight per superpixel.
std::vector<double> fit_lime(const cv::Mat& masks, const std::vector<double>& scores, const LimeOptions& opts,
                             double* intercept, double* r2);

// SLIC superpixels of an RGB image with compact ids 0..n-1 (CV_32S). Throws UsageError when
// the image is too small for the requested number (regions under 8 x 8 pixels).
cv::Mat slic_superpixels(const cv::Mat& rgb, int superpixels, double ruler, int* count);

// The image with superpixels whose weight is at least the given percentile of all weights (and
// positive) kept bright and outlined, the rest dimmed. RGB in, RGB out.
cv::Mat draw_lime(const LimeResult& r, double percentile = 90);

// draw_lime written as a picture: UsageError unless the file ends in .png, .jpg or .jpeg (checked
// first, so callers can check before the work), IoError when it cannot be written.
void check_lime_picture_path(const std::filesystem::path& file);
void write_lime_picture(const std::filesystem::path& file, const LimeResult& r, double percentile = 90);

nlohmann::json lime_json(const LimeResult& r, const Classifier& clf);

}  // namespace irbis
