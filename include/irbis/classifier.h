// Classifiers on image embeddings: multinomial logistic regression fitted with L-BFGS
// (liblbfgs), regularisation chosen by seeded stratified cross-validation, class weights for
// imbalance, evaluation (accuracy, per-class precision/recall/F1, confusion matrix), out-of-fold
// predictions for mislabel hints, and a versioned, checksummed model file. See docs/classify.md.
#pragma once
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "irbis/model.h"

namespace irbis {

// Which per-image vector the classifier reads.
//   full:        the model's descriptor as stored (default model: 2696-d multi-layer)
//   blocks:      every pooled block, each L2-normalised, concatenated, L2-normalised again
//                (default model: 3720-d; better on texture-like classes)
//   blocks-sqrt: the same after a signed square root of every pooled value (power normalisation:
//                damps the few channels that dominate a block; helps on textures)
//   blocks-sqrt-rff: blocks-sqrt mapped through random Fourier features (RandomFeatures below):
//                the linear model on them is a non-linear (Gaussian-kernel) classifier of blocks-sqrt;
//                only when asked for (`--input blocks-sqrt-rff`), not a default candidate
// All are computed from what a collection stores (the descriptor and every pooled block), so
// `irbis train` can cross-validate them without re-indexing.
enum class ClassifierInput { full, blocks, blocks_sqrt, blocks_sqrt_rff };
// "full" | "blocks" | "blocks-sqrt" | "blocks-sqrt-rff"
ClassifierInput parse_classifier_input(const std::string& s);
const char* classifier_input_name(ClassifierInput v);
// The candidates `irbis train` cross-validates when --input is not given, simplest first (ties
// go to the earlier one).
std::vector<ClassifierInput> default_classifier_inputs();
// Whether the input is computed from the pooled blocks (else: the stored descriptor).
inline bool reads_blocks(ClassifierInput v) { return v != ClassifierInput::full; }
int classifier_input_dim(const ModelCard& card, ClassifierInput v);

// Random Fourier features (Rahimi & Recht, "Random features for large-scale kernel machines",
// NIPS 2007): z(x) = sqrt(2 / dim) cos(W x + b) with W ~ N(0, 1 / sigma^2) and b ~ U[0, 2 pi)
// drawn from a fixed seed by a portable generator (same numbers on every platform), so z·z'
// approximates the Gaussian kernel exp(-|x - x'|^2 / (2 sigma^2)) and the logistic regression on
// z is a non-linear classifier of x that keeps the convex fit, the calibrated probabilities and
// LIME. The map is stored by its parameters (a .clf holds seed, dim and sigma, not W).
inline constexpr int kRandomFeatureDim = 4096;
inline constexpr uint64_t kRandomFeatureSeed = 20071203;
struct RandomFeatures {
  int input_dim = 0;
  int dim = 0;          // 0: no map
  uint64_t seed = 0;
  double sigma = 1;     // kernel width
  cv::Mat W;            // dim x input_dim CV_32F, scaled by 1 / sigma
  cv::Mat b;            // 1 x dim CV_32F
  bool empty() const { return dim == 0; }
  // Rows n x input_dim CV_32F -> n x dim CV_32F. ModelError when the width differs.
  cv::Mat map(const cv::Mat& X) const;
  nlohmann::json to_json() const;  // {input_dim, dim, seed, sigma}
  static RandomFeatures from_json(const nlohmann::json& j);  // ModelError when incomplete
};
// The map with these parameters (W and b drawn from the seed). UsageError for bad sizes or sigma.
RandomFeatures make_random_features(int input_dim, int dim, uint64_t seed, double sigma);
// The median heuristic: the median Euclidean distance between rows of X (pairs among at most
// `max_rows` evenly spaced rows; label-free, like the standardisation), 1 when all rows coincide.
double median_row_distance(const cv::Mat& X, int max_rows = 600);

// Rows of raw pooled blocks (n x card.blocks_dim()) -> the "blocks" classifier input.
cv::Mat normalise_blocks(const ModelCard& card, const cv::Mat& blocks);
// Rows of raw pooled blocks -> a block input (reads_blocks(input); full is the stored descriptor,
// or Embedder::descriptor_from_blocks). blocks-sqrt-rff needs its map (`rff`; UsageError without).
struct RandomFeatures;
cv::Mat classifier_features_from_blocks(const ModelCard& card, ClassifierInput input, const cv::Mat& blocks,
                                        const RandomFeatures* rff = nullptr);

struct FitOptions {
  double l2 = 1e-2;           // L2 penalty on the weights (features are standardised)
  bool balanced = true;       // class weights n / (K * n_c)
  int max_iter = 500;
  double epsilon = 1e-5;      // liblbfgs: stop when |g| / max(1, |w|) < epsilon
  // Warm start (K x (dim + 1), CV_64F: weights then bias per row); empty = zeros.
  cv::Mat init;
};

// Multinomial logistic regression on standardised features.
struct LogisticModel {
  cv::Mat mean, scale;  // 1 x dim CV_32F: x' = (x - mean) * scale
  cv::Mat W;            // K x dim CV_32F (on standardised features)
  cv::Mat b;            // 1 x K CV_32F
  // Temperature scaling of the logits (probabilities = softmax(logits / temperature)): fitted on
  // out-of-fold predictions so that the probabilities are calibrated; 1 = the plain fit. Does not
  // change the predicted class.
  double temperature = 1;
  int iterations = 0;
  double loss = 0;
  int classes() const { return W.rows; }
  int dim() const { return W.cols; }
  // n x dim CV_32F -> n x K CV_32F class probabilities (rows sum to 1).
  cv::Mat predict_proba(const cv::Mat& X) const;
  // n x dim CV_32F -> n x K CV_32F logits (before the temperature and the softmax).
  cv::Mat logits(const cv::Mat& X) const;
  cv::Mat params() const;  // K x (dim + 1) CV_64F (warm start)
};

// y[i] in [0, K); every class must occur. Throws UsageError on bad shapes.
LogisticModel fit_logistic(const cv::Mat& X, const std::vector<int>& y, int K, const FitOptions& opts = {});

// --- splits and evaluation ---
// Stratified train/test split: per class, round(fraction * n_c) images go to test, but at least
// one stays in train (and, when fraction > 0 and n_c >= 2, at least one goes to test). Seeded.
void stratified_split(const std::vector<int>& y, int K, double test_fraction, uint64_t seed,
                      std::vector<int>& train, std::vector<int>& test);
// Stratified k-fold assignment: fold[i] in [0, k). Seeded.
std::vector<int> stratified_folds(const std::vector<int>& y, int K, int k, uint64_t seed);

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int support = 0;
};
struct Evaluation {
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean recall
  std::vector<ClassScores> per_class;
  cv::Mat confusion;  // K x K CV_32S, rows = true class, cols = predicted
};
Evaluation evaluate(const std::vector<int>& truth, const std::vector<int>& pred, int K);
nlohmann::json evaluation_json(const Evaluation& e, const std::vector<std::string>& classes);
// The inverse (e.g. a classifier file's stored report): ModelError when j does not hold an
// evaluation of exactly these classes.
Evaluation evaluation_from_json(const nlohmann::json& j, const std::vector<std::string>& classes);

std::vector<int> argmax_rows(const cv::Mat& proba);

// Rows of logits (n x K CV_32F) -> softmax(logits / temperature), in a new matrix.
cv::Mat softmax_rows(const cv::Mat& logits, double temperature = 1);
// Mean negative log-likelihood of the true classes under softmax(logits / temperature).
double log_loss(const cv::Mat& logits, const std::vector<int>& truth, double temperature = 1);
// Temperature scaling (Guo et al., "On calibration of modern neural networks", 2017): the
// temperature in [1/100, 100] that minimises log_loss on these (held-out) logits. The loss is
// convex in 1 / temperature, so a golden-section search on log(temperature) finds it. 1 for no rows.
double fit_temperature(const cv::Mat& logits, const std::vector<int>& truth);

// Expected calibration error of class probabilities (n x K CV_32F) against the true classes:
// the rows are binned by their top probability into `bins` equal-width bins of [0, 1]
// (a value on an edge goes to the upper bin, 1.0 to the last); ECE = sum over bins of
// (rows in bin / n) * |accuracy in bin - mean top probability in bin|. 0 for no rows.
double expected_calibration_error(const cv::Mat& proba, const std::vector<int>& truth, int bins = 15);

// --- the train command's work ---
struct TrainOptions {
  double test_fraction = 0.3;
  uint64_t seed = 1;
  double l2 = -1;                 // < 0: chosen by cross-validation from l2_grid
  std::vector<double> l2_grid = {1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0};
  int cv_folds = 3;
  int cv_max_rows = 20000;        // CV runs on a stratified subsample of at most this many rows
  bool balanced = true;
  bool out_of_fold = false;       // also compute out-of-fold probabilities for every row
  int oof_folds = 5;
  // After the held-out evaluation, fit the saved model on every labelled row with the chosen
  // input and penalty (false: save the model that was evaluated, fitted on the training part).
  bool refit = true;
  // With several input candidates, the input and the penalty are chosen together by CV on a
  // stratified subsample of at most this many training rows (shared folds for all candidates).
  int cv_input_max_rows = 4000;
  // Temperature scaling of the saved model's probabilities (calibrate_temperature): converged
  // fold models at the chosen input and penalty on `calibration_folds` folds of the training part
  // give out-of-fold logits; the temperature is kept only when it lowers their cross-fitted log-loss.
  bool calibrate = true;
  int calibration_folds = 5;
};

// Temperature calibration from out-of-fold logits (n x K CV_32F, every row predicted by a model
// that did not see it) and their folds: `temperature` = fit_temperature on every row. It is
// checked on held-out rows first: for each fold, a temperature fitted on the other folds' rows
// scores this fold's rows; `accepted` when the summed log-loss of those cross-fitted scores is
// below the log-loss at temperature 1 (otherwise `temperature` is 1: calibration would not help).
struct TemperatureCalibration {
  double temperature = 1;
  bool accepted = false;
  double fitted = 1;                 // the temperature fitted on every row (before the check)
  double log_loss_uncalibrated = 0;  // out-of-fold log-loss at temperature 1
  double log_loss_cross_fitted = 0;  // out-of-fold log-loss at the temperatures fitted on the other folds
  int rows = 0;
};
TemperatureCalibration calibrate_temperature(const cv::Mat& oof_logits, const std::vector<int>& truth,
                                             const std::vector<int>& fold, int folds);

// One input candidate of train_classifier: its kind and its rows (n x dim CV_32F, row i belongs
// to label i).
struct ClassifierCandidate {
  ClassifierInput input = ClassifierInput::full;
  cv::Mat X;
  RandomFeatures rff;  // the map X was made with (blocks-sqrt-rff), empty otherwise
};
// The blocks-sqrt-rff candidate from blocks-sqrt rows: kRandomFeatureDim features from
// kRandomFeatureSeed, sigma = median_row_distance of the rows (every image given, labelled or not).
ClassifierCandidate random_feature_candidate(const cv::Mat& blocks_sqrt);

// Cross-validation of one input candidate: pooled held-out accuracy per penalty, and its best.
struct InputScore {
  ClassifierInput input = ClassifierInput::full;
  int dim = 0;
  double l2 = 0;         // best penalty for this input (ties: the stronger)
  double accuracy = 0;   // its CV accuracy
  std::vector<std::pair<double, double>> cv_accuracy;  // (l2, accuracy)
  double log_loss = 0;   // its CV log-loss at that penalty (before temperature scaling)
};

struct TrainResult {
  LogisticModel model;   // the model to save: refitted on every labelled row, or (no refit / no
                         // test part) the evaluated one, fitted on the training part
  bool refitted = false;
  int model_images = 0;  // rows `model` was fitted on
  ClassifierInput input = ClassifierInput::full;  // the chosen candidate
  RandomFeatures rff;                             // its random-feature map (blocks-sqrt-rff)
  bool input_cross_validated = false;             // several candidates were compared
  std::vector<InputScore> input_scores;           // one per candidate (when cross-validated)
  double l2 = 0;
  std::vector<std::pair<double, double>> cv_accuracy;  // (l2, mean held-out accuracy) of the chosen input
  int cv_images = 0;     // training rows the cross-validation ran on
  int evaluated_iterations = 0;  // L-BFGS iterations of the evaluated model
  std::vector<int> train_rows, test_rows;
  Evaluation train_eval, test_eval;  // of the model fitted on the training part
  double test_ece = 0;   // expected calibration error on the test part (when there is one), with the temperature
  double test_ece_uncalibrated = 0;  // the same at temperature 1
  double test_log_loss = 0, test_log_loss_uncalibrated = 0;
  double temperature = 1;  // model.temperature (1 = not calibrated, or calibration did not help)
  double test_ece_fitted = -1;  // test ECE had the fitted temperature been kept although it was
                                // above 1 (-1 when it was not): the evidence for the rule
  TemperatureCalibration calibration;  // how it was chosen (rows = 0: not calibrated)
  cv::Mat oof_proba;     // n x K when out_of_fold (each row predicted by a model that never saw it)
  // Logits of the evaluated model (before the temperature) on train_rows and test_rows, in order:
  // what a classifier of several heads averages for its own evaluation.
  cv::Mat train_logits, test_logits;
  double seconds = 0;
};

// Checks the labels (>= 2 classes, >= 2 images per class; UsageError naming the offenders
// otherwise), splits, chooses the input (several candidates) and l2 by stratified k-fold CV on
// the training part, fits on the training part and evaluates on the test part, then (opts.refit)
// fits the saved model on every labelled row. Rows whose y is -1 are ignored.
TrainResult train_classifier(const std::vector<ClassifierCandidate>& candidates, const std::vector<int>& y,
                             const std::vector<std::string>& classes, const TrainOptions& opts);
// One input (reported as `full`).
TrainResult train_classifier(const cv::Mat& X, const std::vector<int>& y,
                             const std::vector<std::string>& classes, const TrainOptions& opts);

// A classifier of several heads (one per embedding model, e.g. `irbis train --model a,b`): each
// head is trained by train_classifier on its own model's candidates with the same labels, split,
// folds and seed (rows aligned: row i is the same image for every head), so each chooses its own
// input, penalty and temperature. The classifier's probabilities are the mean of its heads'
// calibrated probabilities; its evaluation, test ECE and out-of-fold probabilities are those of
// that mean (one head: exactly the head's own).
struct HeadsTrainResult {
  std::vector<TrainResult> heads;
  Evaluation train_eval, test_eval;
  double test_ece = 0, test_ece_uncalibrated = 0, test_log_loss = 0, test_log_loss_uncalibrated = 0;
  cv::Mat oof_proba;  // n x K when out_of_fold: the mean of the heads' out-of-fold probabilities
  double seconds = 0;
};
HeadsTrainResult train_classifier_heads(const std::vector<std::vector<ClassifierCandidate>>& heads,
                                        const std::vector<int>& y, const std::vector<std::string>& classes,
                                        const TrainOptions& opts);
// Mean of class probabilities (each n x K CV_32F); one matrix is returned as is.
cv::Mat mean_probabilities(const std::vector<cv::Mat>& proba);

// --- model file ---
// Binary file: magic "IRBISCLF", format version, JSON header (class names, training report, and
// per head: embedding model name, its ONNX sha256, input kind, dim, temperature), then each head's
// float arrays, and an xxh3-64 checksum of everything before it. Version 1 (one head, its keys at
// the top of the header) still loads. load() throws ModelError for a file that is not a
// classifier, from an unknown format version, truncated or corrupted.
inline constexpr uint32_t kClassifierFormatVersion = 2;

// One head of a classifier: a logistic model on one embedding model's rows.
struct ClassifierHead {
  std::string embedding_model;   // registry name of the embedding model
  std::string embedding_sha256;  // its ONNX sha256 when trained
  ClassifierInput input = ClassifierInput::full;
  RandomFeatures rff;            // blocks-sqrt-rff: the map applied to blocks-sqrt rows
  LogisticModel model;

  int input_dim() const { return model.dim(); }
  // Feature rows for this head from the embedder's raw pooled blocks (n x blocks_dim).
  cv::Mat features_from_blocks(const Embedder& embedder, const cv::Mat& blocks) const;
  // Throws ModelError if the registry's model differs from the one the head was trained with.
  void check_embedder(const ModelCard& card) const;
};

struct Classifier {
  std::vector<ClassifierHead> heads;  // one per embedding model; probabilities averaged
  std::vector<std::string> classes;
  nlohmann::json report;         // training report (accuracies, confusion, l2, split, seed)

  // The heads' models and inputs joined by "," (as `--model` takes them), e.g. "mobilenet_v2_mid".
  std::string embedding_models_text() const;
  std::string inputs_text() const;
  // Class probabilities from each head's feature rows (features[h]: n rows of head h): the mean of
  // the heads' calibrated probabilities. UsageError when the counts differ.
  cv::Mat predict_proba(const std::vector<cv::Mat>& features) const;
  // One head's rows go in as std::vector<cv::Mat>{rows}: a bare matrix (or {rows}) would convert to
  // a vector of its elements through cv::Mat's conversion operator, so that call is refused.
  cv::Mat predict_proba(const cv::Mat& features) const = delete;
  // Index of a class name; throws UsageError listing the classes if unknown.
  int class_index(const std::string& name) const;
  // The registry's model card of every head (find_model), each checked with check_embedder.
  std::vector<ModelCard> cards() const;

  void save(const std::filesystem::path& file) const;  // atomic (tmp + rename)
  static Classifier load(const std::filesystem::path& file);
};

// One network per head of a classifier, in head order (predicting files and explaining embed an
// image with every head's model). Not thread-safe: one image at a time; workers keep one each.
class ClassifierNetworks {
 public:
  // One Embedder per card, each with opts (engine, precision, oneDNN team size).
  explicit ClassifierNetworks(const std::vector<ModelCard>& cards,
                              const InferenceOptions& opts = default_inference());
  size_t size() const { return nets_.size(); }
  Embedder& operator[](size_t h) { return *nets_[h]; }
  // The same networks again, each with its engine and precision (so the same weights) and a
  // one-thread team: LIME's per-core copies.
  std::unique_ptr<ClassifierNetworks> single_threaded_copy() const;
  // Every network runs on oneDNN with a one-thread team (the case where per-core copies pay).
  bool single_threaded_onednn() const;

 private:
  ClassifierNetworks() = default;
  std::vector<std::unique_ptr<Embedder>> nets_;
};

// The classifier `irbis train` saves: one head per card (the embedding model's name and sha256,
// the head's input and model), the class names and a training report (split, seed, class weights,
// image counts, which model was saved and on how many images, train/test evaluations and test
// ECE of the classifier; per head the input and l2 with every candidate's CV scores, temperature,
// iterations: at the top for one head, under "heads" with each head's own test evaluation for
// several); the entries of `source` (e.g. collection, labels) are copied into the report first.
Classifier make_classifier(const std::vector<ModelCard>& cards, const std::vector<std::string>& classes,
                           const HeadsTrainResult& tr, const TrainOptions& opts, int64_t unlabelled,
                           const nlohmann::json& source);
// One head.
Classifier make_classifier(const ModelCard& card, const std::vector<std::string>& classes, const TrainResult& tr,
                           const TrainOptions& opts, int64_t unlabelled, const nlohmann::json& source);

// Possible mislabels (`irbis train --suspects`): labelled rows whose out-of-fold prediction is
// another class with probability >= min_confidence, most confident first.
struct SuspectLabel {
  size_t row = 0;
  int label = -1, predicted = -1;
  float confidence = 0;  // probability of the predicted class
  float p_label = 0;     // probability of the given label
};
std::vector<SuspectLabel> suspect_labels(const cv::Mat& oof_proba, const std::vector<int>& label,
                                         double min_confidence);

// Class probabilities (1 x K CV_32F) of an image file embedded on the fly with every head's
// network (`nets`, see Classifier::cards). Throws IoError/DecodeError naming the file.
cv::Mat predict_file(const Classifier& clf, ClassifierNetworks& nets, const std::string& path);

// predict_file on many files, as `irbis index` embeds them: one set of networks per worker, each on
// its own share of the cores (one network shared by a multi-threaded team spends most of its CPU
// waiting on a busy machine). Rows keep the order of `paths`; an unreadable or undecodable file gets
// its error and an empty proba, the rest go on. cards: Classifier::cards(). workers <= 0: one per core.
struct FilePrediction {
  cv::Mat proba;      // 1 x K CV_32F, empty when the file failed
  std::string error;  // IoError/DecodeError text naming the file
  std::exception_ptr failure;  // that error itself (callers that raise rethrow it with its type)
};
std::vector<FilePrediction> predict_files(const Classifier& clf, const std::vector<ModelCard>& cards,
                                          const std::vector<std::string>& paths, int workers = 0);

// Reads and decodes an image file to 8-bit RGB with at least min_side pixels on its shorter side
// when the file has them (0: full size). Throws IoError/DecodeError naming the file.
cv::Mat read_rgb(const std::string& path, int min_side);

// Confusion matrix as a picture: .png/.jpg (OpenCV drawing) or .svg. Throws UsageError for
// another extension, IoError when it cannot be written.
void write_confusion_plot(const std::filesystem::path& file, const cv::Mat& confusion,
                          const std::vector<std::string>& classes, const std::string& title);
// The SVG picture as text (K x K CV_32S counts; UsageError otherwise), e.g. inline in the report.
std::string confusion_svg(const cv::Mat& confusion, const std::vector<std::string>& classes, const std::string& title);

}  // namespace irbis
